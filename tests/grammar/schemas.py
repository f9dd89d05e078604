"""A broad set of realistic schemas (tool parameters and friends) for the converter tests."""

from __future__ import annotations

from typing import Any

SCHEMAS: dict[str, dict[str, Any]] = {
    "weather": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name", "minLength": 1,
                         "maxLength": 40},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
        "additionalProperties": False,
    },
    "search": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "maxLength": 60},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "safe": {"type": "boolean"},
        },
        "required": ["query"],
    },
    "all_optional": {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 0, "maximum": 9},
            "b": {"type": "boolean"},
            "c": {"type": "null"},
            "d": {"enum": ["x", "y"]},
        },
    },
    "send_email": {
        "type": "object",
        "properties": {
            "to": {"type": "array", "items": {"type": "string", "format": "email"},
                   "minItems": 1, "maxItems": 5},
            "subject": {"type": "string", "maxLength": 80},
            "body": {"type": "string", "maxLength": 200},
            "priority": {"enum": ["low", "normal", "high"]},
        },
        "required": ["to", "subject"],
        "additionalProperties": False,
    },
    "calendar_event": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 50},
            "start": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "at": {"type": "string", "format": "time"},
            "attendees": {"type": "array", "items": {"type": "string", "maxLength": 20},
                          "maxItems": 4},
        },
        "required": ["title", "day"],
    },
    "uuid_lookup": {
        "type": "object",
        "properties": {"id": {"type": "string", "format": "uuid"}},
        "required": ["id"],
        "additionalProperties": False,
    },
    "network": {
        "type": "object",
        "properties": {
            "ip": {"type": "string", "format": "ipv4"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "url": {"type": "string", "format": "uri"},
        },
        "required": ["ip", "port"],
    },
    "bounded_numbers": {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "temp": {"type": "number", "minimum": -40, "maximum": 60},
            "pos": {"type": "number", "exclusiveMinimum": 0},
            "price": {"type": "number", "minimum": 0.5, "maximum": 99.99},
        },
        "required": ["ratio", "temp"],
    },
    "bounded_ints": {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": -17, "maximum": 2304},
            "b": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
            "c": {"type": "integer", "minimum": 1000},
            "d": {"type": "integer", "maximum": -5},
            "e": {"type": "integer", "format": "int32"},
        },
        "required": ["a", "b"],
    },
    "patterns": {
        "type": "object",
        "properties": {
            "zip": {"type": "string", "pattern": "^\\d{5}(-\\d{4})?$"},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"},
            "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
            "has_at": {"type": "string", "pattern": "@"},
        },
        "required": ["zip", "code"],
    },
    "pattern_length": {
        "type": "object",
        "properties": {
            "user": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "minLength": 3,
                     "maxLength": 16},
        },
        "required": ["user"],
        "additionalProperties": False,
    },
    "nested_address": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 30},
            "address": {
                "type": "object",
                "properties": {
                    "street": {"type": "string", "maxLength": 40},
                    "city": {"type": "string", "maxLength": 30},
                    "country": {"type": "string", "enum": ["FR", "DE", "US"]},
                },
                "required": ["city", "country"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "address"],
        "additionalProperties": False,
    },
    "array_of_objects": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "pattern": "^[A-Z0-9]{4,8}$"},
                        "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                    },
                    "required": ["sku", "qty"],
                    "additionalProperties": False,
                },
                "minItems": 1,
                "maxItems": 3,
            },
        },
        "required": ["items"],
    },
    "nullable_fields": {
        "type": "object",
        "properties": {
            "nick": {"type": ["string", "null"], "maxLength": 10},
            "age": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 150},
            "score": {"type": ["number", "null"]},
        },
        "required": ["nick", "age"],
    },
    "anyof_value": {
        "type": "object",
        "properties": {
            "value": {"anyOf": [{"type": "string", "maxLength": 10},
                                {"type": "integer", "minimum": 0, "maximum": 10},
                                {"type": "boolean"}]},
        },
        "required": ["value"],
    },
    "oneof_types": {
        "oneOf": [{"type": "string", "maxLength": 8}, {"type": "integer", "minimum": 0,
                                                        "maximum": 99}, {"type": "null"}],
    },
    "oneof_discriminator": {
        "type": "object",
        "properties": {
            "shape": {
                "oneOf": [
                    {"type": "object", "properties": {
                        "kind": {"const": "circle"},
                        "r": {"type": "number", "minimum": 0, "maximum": 100}},
                     "required": ["kind", "r"]},
                    {"type": "object", "properties": {
                        "kind": {"const": "rect"},
                        "w": {"type": "integer", "minimum": 1, "maximum": 100},
                        "h": {"type": "integer", "minimum": 1, "maximum": 100}},
                     "required": ["kind", "w", "h"]},
                ],
            },
        },
        "required": ["shape"],
    },
    "oneof_required_keys": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "phone": {"type": "string", "pattern": "^\\+[0-9]{8,12}$"},
        },
        "oneOf": [{"required": ["email"]}, {"required": ["phone"]}],
    },
    "allof_merge": {
        "allOf": [
            {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1,
                                                     "maximum": 999}},
             "required": ["id"]},
            {"properties": {"name": {"type": "string", "maxLength": 20}},
             "required": ["name"]},
        ],
    },
    "allof_ref": {
        "$defs": {
            "base": {"type": "object", "properties": {"kind": {"enum": ["a", "b"]}},
                     "required": ["kind"]},
        },
        "allOf": [{"$ref": "#/$defs/base"},
                  {"properties": {"note": {"type": "string", "maxLength": 15}}}],
    },
    "tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer", "minimum": 0, "maximum": 100},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                 "maxItems": 2},
                },
                "required": ["value"],
                "additionalProperties": False,
            },
        },
        "$ref": "#/$defs/node",
    },
    "linked_list": {
        "definitions": {
            "cell": {
                "type": "object",
                "properties": {
                    "head": {"type": "string", "maxLength": 5},
                    "tail": {"anyOf": [{"$ref": "#/definitions/cell"}, {"type": "null"}]},
                },
                "required": ["head", "tail"],
                "additionalProperties": False,
            },
        },
        "$ref": "#/definitions/cell",
    },
    "recursive_root": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "sub": {"$ref": "#"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    "prefix_items": {
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"},
                                                       {"type": "number"}],
                      "items": False, "minItems": 2},
            "row": {"type": "array", "prefixItems": [{"type": "string", "maxLength": 5},
                                                     {"type": "integer"}],
                    "items": {"type": "boolean"}, "maxItems": 4},
        },
        "required": ["point"],
    },
    "type_array": {
        "type": "object",
        "properties": {
            "v": {"type": ["string", "integer", "null"], "maxLength": 6, "minimum": -3,
                  "maximum": 3},
        },
        "required": ["v"],
    },
    "enum_mixed": {
        "type": "object",
        "properties": {
            "mode": {"enum": ["auto", 1, 2.5, None, True]},
            "level": {"const": "max"},
        },
        "required": ["mode", "level"],
    },
    "additional_schema": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 10}},
        "required": ["name"],
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 9},
        "maxProperties": 4,
    },
    "map_of_strings": {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 8},
        "maxProperties": 3,
    },
    "min_max_props": {
        "type": "object",
        "properties": {
            "a": {"type": "boolean"}, "b": {"type": "boolean"}, "c": {"type": "boolean"},
            "d": {"type": "boolean"},
        },
        "minProperties": 1,
        "maxProperties": 2,
        "additionalProperties": False,
    },
    "dependent_required": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 10},
            "card": {"type": "string", "pattern": "^[0-9]{16}$"},
            "cvv": {"type": "string", "pattern": "^[0-9]{3}$"},
        },
        "required": ["name"],
        "dependentRequired": {"card": ["cvv"]},
        "additionalProperties": False,
    },
    "unique_tags": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue", "black"]},
                     "uniqueItems": True, "maxItems": 3},
        },
        "required": ["tags"],
    },
    "free_any": {
        "type": "object",
        "properties": {"payload": {}, "meta": True},
        "required": ["payload"],
    },
    "string_lengths": {
        "type": "object",
        "properties": {
            "exact": {"type": "string", "minLength": 3, "maxLength": 3},
            "short": {"type": "string", "maxLength": 2},
            # bounded: free strings are uncapped by design, and at temperature 0 the 135M model
            # of the end-to-end test loops inside one until n_predict
            "long": {"type": "string", "minLength": 5, "maxLength": 300},
        },
        "required": ["exact", "short"],
    },
    "matrix": {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "maxItems": 3,
                     "items": {"type": "array", "maxItems": 3,
                               "items": {"type": "integer", "minimum": -9, "maximum": 9}}},
        },
        "required": ["rows"],
    },
    "untyped_object": {
        "properties": {"q": {"type": "string", "maxLength": 10}},
        "required": ["q"],
    },
    "top_level_array": {
        "type": "array",
        "items": {"type": "string", "enum": ["a", "b", "c"]},
        "minItems": 2,
        "maxItems": 4,
    },
    "top_level_int": {"type": "integer", "minimum": 10, "maximum": 99},
    "top_level_number": {"type": "number"},
    "openapi_style": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "format": "int64", "minimum": 1},
            "ratio": {"type": "number", "format": "float"},
            "tag": {"type": "string", "nullable": True, "maxLength": 12},
        },
        "required": ["id"],
    },
    "multiple_of": {
        "type": "object",
        "properties": {
            "step": {"type": "integer", "multipleOf": 5, "minimum": 0, "maximum": 100},
            "whole": {"type": "number", "multipleOf": 1, "minimum": -3, "maximum": 3},
        },
        "required": ["step"],
    },
    "unicode_keys": {
        "type": "object",
        "properties": {
            "名前": {"type": "string", "maxLength": 6},
            "quote\"key": {"type": "boolean"},
        },
        "required": ["名前", "quote\"key"],
        "additionalProperties": False,
    },
    "shared_defs": {
        "$defs": {
            "money": {"type": "object", "properties": {
                "amount": {"type": "number", "minimum": 0, "maximum": 1000000},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                "required": ["amount", "currency"], "additionalProperties": False},
        },
        "type": "object",
        "properties": {
            "price": {"$ref": "#/$defs/money"},
            "discount": {"$ref": "#/$defs/money"},
        },
        "required": ["price"],
    },
    "hostname_and_bytes": {
        "type": "object",
        "properties": {
            "host": {"type": "string", "format": "hostname"},
            "blob": {"type": "string", "format": "byte"},
        },
        "required": ["host"],
    },
}
