"""A corpus of realistic tool definitions (OpenAI tool dicts) for end-to-end tool-calling
tests and benchmarks: nested objects, enums, arrays of objects, optional fields, bounded
integers and numbers, strings with lengths/patterns/formats, booleans, anyOf/oneOf disjoint
by type or by a const discriminator, nullable types, $defs/$ref, additionalProperties false,
tools without parameters and 3–4 levels of nesting.

Every schema uses only keywords the converter enforces exactly: each one converts with
``strict=True`` as well as with the non-strict default (checked by ``check_corpus()``), so a
valid grammar-constrained call is a real guarantee, not a dropped keyword. (Not used for that
reason: ``uniqueItems`` on non-enum items, ``pattern`` together with ``format`` or length
bounds, ``not``, ``patternProperties``, fractional ``multipleOf``.)

Free-text strings carry a ``maxLength`` and arrays a ``maxItems``, as careful real tool
definitions do: the demo model is 135M parameters and would otherwise fill an unbounded
string or array until max_tokens.
"""

from __future__ import annotations

from typing import Any

_EMAIL = {"type": "string", "format": "email"}
_DATE = {"type": "string", "format": "date"}
_DATETIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}
_HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}


def _text(max_len: int, description: str = "", min_len: int = 0) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string", "maxLength": max_len}
    if min_len:
        s["minLength"] = min_len
    if description:
        s["description"] = description
    return s


def _obj(props: dict[str, Any], required: list[str] | None = None,
         closed: bool = True) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "object", "properties": props,
                         "required": list(props) if required is None else required}
    if closed:
        s["additionalProperties"] = False
    return s


def _tool(name: str, description: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name, "description": description}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


_ADDRESS = _obj({
    "street": _text(80), "city": _text(40, min_len=1),
    "postal_code": {"type": "string", "pattern": "^[0-9A-Z]{3,5}( ?[0-9A-Z]{3})?$"},
    "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166 alpha-2"},
}, ["city", "country"])

TOOLS: list[dict[str, Any]] = [
    _tool("get_weather", "Get the current weather for a city.", _obj({
        "city": _text(60, "City name, e.g. Paris", 1),
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    }, ["city"])),
    _tool("get_stock_quote", "Latest price of a stock by ticker symbol.", _obj({
        "symbol": {"type": "string", "pattern": "^[A-Z]{1,5}$"},
        "exchange": {"type": "string", "enum": ["NASDAQ", "NYSE", "LSE", "TSE"]},
    }, ["symbol"])),
    _tool("send_email", "Send an email message.", _obj({
        "to": _EMAIL,
        "cc": {"type": "array", "items": _EMAIL, "maxItems": 5},
        "subject": _text(120, min_len=1),
        "body": _text(300),
        "priority": {"type": "string", "enum": ["low", "normal", "high"]},
    }, ["to", "subject", "body"])),
    _tool("create_calendar_event", "Create an event in the user's calendar.", _obj({
        "title": _text(80, min_len=1),
        "date": _DATE,
        "start_time": {**_HHMM, "description": "24h HH:MM"},
        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 480},
        "attendees": {"type": "array", "items": _EMAIL, "maxItems": 10},
        "location": {"type": ["string", "null"], "maxLength": 80},
    }, ["title", "date", "start_time"])),
    _tool("book_flight", "Book a flight for one or more passengers.", _obj({
        "origin": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "IATA code"},
        "destination": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "departure_date": _DATE,
        "return_date": {"type": ["string", "null"], "format": "date"},
        "passengers": {"type": "array", "minItems": 1, "maxItems": 4, "items": _obj({
            "first_name": _text(30, min_len=1), "last_name": _text(30, min_len=1),
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
        }, ["first_name", "last_name"])},
        "cabin": {"type": "string", "enum": ["economy", "premium", "business", "first"]},
    }, ["origin", "destination", "departure_date", "passengers"])),
    _tool("search_products", "Search the product catalogue.", _obj({
        "query": _text(80, min_len=1),
        "filters": _obj({
            "price": _obj({"min": {"type": "number", "minimum": 0},
                           "max": {"type": "number", "minimum": 0, "maximum": 100000}}, []),
            "categories": {"type": "array", "maxItems": 3, "items": {
                "type": "string", "enum": ["books", "electronics", "garden", "toys", "food"]}},
            "in_stock": {"type": "boolean"},
        }, []),
        "sort": {"type": "string", "enum": ["relevance", "price_asc", "price_desc", "rating"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    }, ["query"])),
    _tool("convert_currency", "Convert an amount between currencies.", _obj({
        "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000000000},
        "from_currency": _CURRENCY, "to_currency": _CURRENCY,
    })),
    _tool("get_current_time", "The current date and time on the server.",
          {"type": "object", "properties": {}}),
    _tool("list_timezones", "List the IANA time zones the server knows.", None),
    _tool("create_user", "Create a new user account.", _obj({
        "username": {"type": "string", "pattern": "^[a-z][a-z0-9_]{2,15}$"},
        "email": _EMAIL,
        "birth_date": _DATE,
        "role": {"type": "string", "enum": ["admin", "editor", "viewer"]},
        "tags": {"type": "array", "items": _text(20, min_len=1), "maxItems": 5},
    }, ["username", "email", "role"])),
    _tool("set_thermostat", "Set the target temperature of a heating zone.", _obj({
        "temperature_c": {"type": "number", "minimum": 10, "maximum": 30},
        "mode": {"type": "string", "enum": ["heat", "cool", "auto", "off"]},
        "zone": {"type": "integer", "minimum": 1, "maximum": 8},
    }, ["temperature_c"])),
    _tool("translate_text", "Translate text into another language.", _obj({
        "text": _text(300, min_len=1),
        "source_lang": {"type": "string", "pattern": "^[a-z]{2}$"},
        "target_lang": {"type": "string", "pattern": "^[a-z]{2}$"},
        "formality": {"type": "string", "enum": ["formal", "informal"]},
    }, ["text", "target_lang"])),
    _tool("get_order_status", "Look up the status of an order.", _obj({"order_id": _UUID})),
    _tool("update_inventory", "Adjust stock levels for several SKUs at once.", _obj({
        "items": {"type": "array", "minItems": 1, "maxItems": 10, "items": _obj({
            "sku": {"type": "string", "pattern": "^[A-Z]{2,4}-[0-9]{3,6}$"},
            "quantity": {"type": "integer", "minimum": 0, "maximum": 100000},
            "warehouse": {"type": "string", "enum": ["north", "south", "east", "west"]},
        })},
        "reason": {"type": "string", "enum": ["restock", "sale", "return", "correction"]},
    })),
    _tool("schedule_meeting", "Schedule a meeting, optionally recurring.", _obj({
        "topic": _text(100, min_len=1),
        "start": _DATETIME,
        "duration_minutes": {"type": "integer", "minimum": 15, "maximum": 240},
        "participants": {"type": "array", "minItems": 1, "maxItems": 3, "items": _obj({
            "name": _text(40, min_len=1), "email": _EMAIL}, ["email"])},
        "recurrence": {"anyOf": [{"type": "null"}, _obj({
            "frequency": {"type": "string", "enum": ["daily", "weekly", "monthly"]},
            "count": {"type": "integer", "minimum": 1, "maximum": 52},
        })]},
    }, ["topic", "start", "participants"])),
    _tool("create_invoice", "Create an invoice for a customer.", {
        "$defs": {
            "address": _ADDRESS,
            "line_item": _obj({
                "description": _text(80, min_len=1),
                "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                "unit_price": {"type": "number", "minimum": 0, "maximum": 100000},
            }),
        },
        **_obj({
            "customer": _obj({
                "name": _text(60, min_len=1),
                "billing_address": {"$ref": "#/$defs/address"},
                "shipping_address": {"anyOf": [{"$ref": "#/$defs/address"}, {"type": "null"}]},
            }, ["name", "billing_address"]),
            "items": {"type": "array", "minItems": 1, "maxItems": 5,
                      "items": {"$ref": "#/$defs/line_item"}},
            "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
            "due_date": _DATE,
        }, ["customer", "items", "currency"]),
    }),
    _tool("run_sql_query", "Run a read-only SQL query on an analytics database.", _obj({
        "query": _text(300, min_len=1),
        "database": {"type": "string", "enum": ["sales", "users", "events"]},
        "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 300},
        "read_only": {"type": "boolean"},
    }, ["query", "database"])),
    _tool("resize_image", "Resize an image available at a URL.", _obj({
        "image_url": {"type": "string", "format": "uri"},
        "width": {"type": "integer", "minimum": 1, "maximum": 4096},
        "height": {"type": "integer", "minimum": 1, "maximum": 4096},
        "keep_aspect_ratio": {"type": "boolean"},
        "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
    }, ["image_url", "width"])),
    _tool("geocode_address", "Turn a postal address into coordinates.",
          _obj({"address": _ADDRESS})),
    _tool("reverse_geocode", "Find the address at a coordinate.", _obj({
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "language": {"type": "string", "pattern": "^[a-z]{2}$"},
    }, ["latitude", "longitude"])),
    _tool("get_directions", "Route between two places.", _obj({
        "origin": _text(80, min_len=1), "destination": _text(80, min_len=1),
        "mode": {"type": "string", "enum": ["driving", "walking", "cycling", "transit"]},
        "waypoints": {"type": "array", "items": _text(80, min_len=1), "maxItems": 3},
        "avoid": {"type": "array", "uniqueItems": True,
                  "items": {"type": "string", "enum": ["tolls", "highways", "ferries"]}},
    }, ["origin", "destination"])),
    _tool("set_reminder", "Remind the user of something later.", _obj({
        "message": _text(140, min_len=1),
        "remind_at": _DATETIME,
        "repeat": {"anyOf": [
            {"type": "string", "enum": ["never", "daily", "weekly"]},
            {"type": "integer", "minimum": 5, "maximum": 1440,
             "description": "every N minutes"}]},
    }, ["message", "remind_at"])),
    _tool("log_workout", "Record a workout in the fitness log.", _obj({
        "activity": {"type": "string", "enum": ["running", "cycling", "swimming", "yoga"]},
        "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 600},
        "distance_km": {"type": ["number", "null"], "minimum": 0, "maximum": 500},
        "calories": {"type": ["integer", "null"], "minimum": 0, "maximum": 10000},
        "date": _DATE,
    }, ["activity", "duration_minutes"])),
    _tool("add_to_cart", "Add a product to the shopping cart.", _obj({
        "product_id": _UUID,
        "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
        "options": _obj({
            "size": {"type": "string", "enum": ["XS", "S", "M", "L", "XL"]},
            "color": _text(20, min_len=1),
            "gift_wrap": {"type": "boolean"},
        }, []),
    }, ["product_id", "quantity"])),
    _tool("create_github_issue", "Open an issue in a GitHub repository.", _obj({
        "repo": {"type": "string", "pattern": r"^[\w.-]{1,39}/[\w.-]{1,100}$"},
        "title": _text(120, min_len=1),
        "body": _text(300),
        "labels": {"type": "array", "uniqueItems": True, "maxItems": 4, "items": {
            "type": "string", "enum": ["bug", "enhancement", "documentation", "question"]}},
        "assignees": {"type": "array", "maxItems": 3,
                      "items": {"type": "string", "pattern": "^[a-zA-Z0-9-]{1,39}$"}},
    }, ["repo", "title"])),
    _tool("deploy_service", "Deploy a version of a service.", _obj({
        "service": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,30}$"},
        "environment": {"type": "string", "enum": ["dev", "staging", "production"]},
        "version": {"type": "string", "pattern": r"^\d{1,3}\.\d{1,3}\.\d{1,3}$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 20},
        "config": _obj({
            "cpu": {"type": "number", "exclusiveMinimum": 0, "maximum": 16},
            "memory_mb": {"type": "integer", "minimum": 128, "maximum": 65536},
            "env": {"type": "array", "maxItems": 5, "items": _obj({
                "name": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]{0,30}$"},
                "value": _text(100)})},
        }, []),
    }, ["service", "environment", "version"])),
    _tool("query_records", "Query records of a table with filters.", _obj({
        "table": {"type": "string", "enum": ["customers", "orders", "products"]},
        "where": {"type": "array", "maxItems": 4, "items": _obj({
            "field": {"type": "string", "pattern": "^[a-z_]{1,30}$"},
            "op": {"type": "string", "enum": ["=", "!=", "<", ">", "contains"]},
            "value": {"anyOf": [_text(60), {"type": "number"}, {"type": "boolean"}]},
        })},
        "order_by": _obj({
            "field": {"type": "string", "pattern": "^[a-z_]{1,30}$"},
            "direction": {"type": "string", "enum": ["asc", "desc"]},
        }),
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    }, ["table"])),
    _tool("send_sms", "Send a text message to a phone number.", _obj({
        "phone": {"type": "string", "pattern": r"^\+[1-9][0-9]{7,14}$",
                  "description": "E.164 phone number"},
        "message": _text(160, min_len=1),
    })),
    _tool("get_news", "Latest news headlines.", _obj({
        "topic": {"type": "string", "enum": ["world", "business", "technology", "sports",
                                             "science"]},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "max_results": {"type": "integer", "minimum": 1, "maximum": 20},
        "from_date": _DATE,
    }, ["topic"])),
    _tool("play_music", "Play music on a speaker.", _obj({
        "query": _text(80, min_len=1),
        "shuffle": {"type": "boolean"},
        "volume": {"type": "integer", "minimum": 0, "maximum": 100},
        "device": {"type": ["string", "null"], "maxLength": 40},
    }, ["query"])),
    _tool("control_light", "Switch and dim a smart light.", _obj({
        "room": {"type": "string", "enum": ["kitchen", "bedroom", "living_room", "office"]},
        "on": {"type": "boolean"},
        "brightness": {"type": "integer", "minimum": 0, "maximum": 100},
        "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    }, ["room", "on"])),
    _tool("calculate_loan_payment", "Monthly payment of an amortised loan.", _obj({
        "principal": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000000},
        "annual_rate_percent": {"type": "number", "minimum": 0, "exclusiveMaximum": 30},
        "years": {"type": "integer", "minimum": 1, "maximum": 40},
    })),
    _tool("create_support_ticket", "Open a customer-support ticket.", _obj({
        "customer": _obj({
            "id": _UUID, "email": _EMAIL,
            "tier": {"type": "string", "enum": ["free", "pro", "enterprise"]},
        }, ["email"]),
        "issue": _obj({
            "category": {"type": "string", "enum": ["billing", "technical", "account"]},
            "severity": {"type": "integer", "minimum": 1, "maximum": 5},
            "description": _text(300, min_len=1),
        }),
        "attachments": {"type": "array", "maxItems": 3, "items": _obj({
            "filename": {"type": "string", "pattern": r"^[\w-]{1,40}\.[a-z]{2,4}$"},
            "size_bytes": {"type": "integer", "minimum": 0, "maximum": 10485760},
        })},
    }, ["customer", "issue"])),
    _tool("file_expense_report", "File an expense report for reimbursement.", _obj({
        "report": _obj({
            "employee": _obj({
                "id": {"type": "string", "pattern": "^E[0-9]{5}$"},
                "department": _obj({
                    "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "cost_center": {"type": "integer", "minimum": 1000, "maximum": 9999},
                }),
            }),
            "expenses": {"type": "array", "minItems": 1, "maxItems": 4, "items": _obj({
                "date": _DATE,
                "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 50000},
                "category": {"type": "string", "enum": ["travel", "meals", "lodging", "other"]},
                "receipt": _obj({
                    "url": {"type": "string", "format": "uri"},
                    "verified": {"type": "boolean"},
                }, ["verified"]),
            }, ["date", "amount", "category"])},
        }),
        "submit": {"type": "boolean"},
    }, ["report"])),
    _tool("create_playlist", "Create a music playlist.", _obj({
        "name": _text(60, min_len=1),
        "description": {"type": ["string", "null"], "maxLength": 200},
        "public": {"type": "boolean"},
        "tracks": {"type": "array", "maxItems": 5, "items": _obj({
            "title": _text(80, min_len=1), "artist": _text(60, min_len=1),
            "duration_seconds": {"type": "integer", "minimum": 1, "maximum": 3600},
        }, ["title", "artist"])},
    }, ["name"])),
    _tool("get_exchange_rates", "Exchange rates for a base currency.", _obj({
        "base": _CURRENCY,
        "symbols": {"type": "array", "items": _CURRENCY, "minItems": 1, "maxItems": 5},
        "date": _DATE,
    }, ["base"])),
    _tool("lookup_word", "Dictionary definition of a word.", _obj({
        "word": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z'-]{0,39}$"},
        "language": {"type": "string", "enum": ["en", "fr", "de", "es"]},
        "include_examples": {"type": "boolean"},
    }, ["word"])),
    _tool("set_alarm", "Set a recurring alarm.", _obj({
        "time": _HHMM,
        "days": {"type": "array", "uniqueItems": True, "minItems": 1, "items": {
            "type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
        "label": _text(40),
    }, ["time", "days"])),
    _tool("cancel_subscription", "Cancel a subscription.", _obj({
        "subscription_id": _UUID,
        "reason": {"type": "string", "enum": ["too_expensive", "not_used", "switching",
                                              "other"]},
        "feedback": _text(300),
        "effective_date": {"type": ["string", "null"], "format": "date"},
    }, ["subscription_id", "reason"])),
    _tool("rate_restaurant", "Leave a rating for a restaurant.", _obj({
        "restaurant_id": {"type": "integer", "minimum": 1},
        "stars": {"type": "number", "minimum": 0, "maximum": 5},
        "review": _text(300),
        "visit_date": _DATE,
    }, ["restaurant_id", "stars"])),
    _tool("track_package", "Track a parcel by carrier and tracking number.", _obj({
        "carrier": {"type": "string", "enum": ["ups", "fedex", "dhl", "usps"]},
        "tracking_number": {"type": "string", "pattern": "^[A-Z0-9]{8,22}$"},
    })),
    _tool("get_user_profile", "Fetch a user profile by numeric id or UUID.", _obj({
        "user": {"oneOf": [{"type": "integer", "minimum": 1}, _UUID]},
        "fields": {"type": "array", "uniqueItems": True, "items": {
            "type": "string", "enum": ["name", "email", "avatar", "created_at"]}},
    }, ["user"])),
    _tool("update_user_settings", "Change notification and display settings.", _obj({
        "settings": _obj({
            "notifications": _obj({
                "email": {"type": "boolean"},
                "sms": {"type": "boolean"},
                "push": _obj({
                    "enabled": {"type": "boolean"},
                    "quiet_hours": _obj({"start": _HHMM, "end": _HHMM}),
                }, ["enabled"]),
            }, []),
            "theme": {"type": "string", "enum": ["light", "dark", "system"]},
            "language": {"type": "string", "pattern": "^[a-z]{2}(-[A-Z]{2})?$"},
        }, []),
    })),
    _tool("compute_statistics", "Summary statistics of a list of numbers.", _obj({
        "values": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "number"}},
        "metrics": {"type": "array", "uniqueItems": True, "minItems": 1, "items": {
            "type": "string", "enum": ["mean", "median", "stdev", "min", "max"]}},
    })),
    _tool("generate_password", "Generate a random password.", _obj({
        "length": {"type": "integer", "minimum": 8, "maximum": 64},
        "include_symbols": {"type": "boolean"},
        "include_numbers": {"type": "boolean"},
    }, ["length"])),
    _tool("list_files", "List files in a directory.", _obj({
        "path": {"type": "string", "pattern": "^/[A-Za-z0-9_./-]{0,100}$"},
        "recursive": {"type": "boolean"},
        "max_depth": {"type": "integer", "minimum": 1, "maximum": 10},
        "extensions": {"type": "array", "maxItems": 5,
                       "items": {"type": "string", "pattern": "^\\.[a-z0-9]{1,5}$"}},
    }, ["path"])),
    _tool("draw_shape", "Draw a shape on the canvas.", _obj({
        "shape": {"oneOf": [
            _obj({"kind": {"const": "circle"},
                  "radius": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}}),
            _obj({"kind": {"const": "rectangle"},
                  "width": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                  "height": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}}),
            _obj({"kind": {"const": "polygon"},
                  "points": {"type": "array", "minItems": 3, "maxItems": 6, "items": _obj({
                      "x": {"type": "integer", "minimum": 0, "maximum": 1920},
                      "y": {"type": "integer", "minimum": 0, "maximum": 1080}})}}),
        ]},
        "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
    }, ["shape"])),
    _tool("submit_form", "Submit values for a web form.", _obj({
        "form_id": {"type": "string", "pattern": "^form_[0-9]{1,6}$"},
        "fields": {"type": "array", "minItems": 1, "maxItems": 5, "items": _obj({
            "name": {"type": "string", "pattern": "^[a-z_]{1,30}$"},
            "value": {"type": ["string", "integer", "boolean", "null"], "maxLength": 100},
        })},
    })),
    _tool("get_server_status", "Health and load of the production servers.", None),
    _tool("refresh_cache", "Drop and rebuild the application cache.",
          {"type": "object", "properties": {}, "additionalProperties": False}),
    _tool("create_task", "Create a task in a project.", {
        "$defs": {
            "subtask": _obj({"title": _text(60, min_len=1), "done": {"type": "boolean"}}),
            "project_ref": _obj({
                "id": {"type": "integer", "minimum": 1, "maximum": 99999},
                "name": _text(40)}, ["id"]),
        },
        **_obj({
            "title": _text(80, min_len=1),
            "due": {"type": ["string", "null"], "format": "date-time"},
            "priority": {"type": "string", "enum": ["p0", "p1", "p2", "p3"]},
            "project": {"$ref": "#/$defs/project_ref"},
            "subtasks": {"type": "array", "maxItems": 4, "items": {"$ref": "#/$defs/subtask"}},
        }, ["title", "priority"]),
    }),
    _tool("book_hotel", "Reserve a hotel room.", _obj({
        "city": _text(60, min_len=1),
        "check_in": _DATE, "check_out": _DATE,
        "guests": {"type": "integer", "minimum": 1, "maximum": 8},
        "room": _obj({
            "type": {"type": "string", "enum": ["single", "double", "suite"]},
            "smoking": {"type": "boolean"},
            "max_price_per_night": {"type": "number", "exclusiveMinimum": 0, "maximum": 5000},
        }, ["type"]),
        "contact": _obj({"name": _text(60, min_len=1), "email": _EMAIL,
                         "phone": {"type": ["string", "null"],
                                   "pattern": r"^\+[1-9][0-9]{7,14}$"}}, ["name", "email"]),
    }, ["city", "check_in", "check_out", "guests"])),
    _tool("set_out_of_office", "Turn on an out-of-office auto-reply.", _obj({
        "start": _DATETIME, "end": _DATETIME,
        "message": _text(300, min_len=1),
        "forward_to": {"anyOf": [_EMAIL, {"type": "null"}]},
    }, ["start", "end", "message"])),
    _tool("analyze_sentiment", "Sentiment of a piece of text.", _obj({
        "text": _text(300, min_len=1),
        "granularity": {"type": "string", "enum": ["document", "sentence"]},
    }, ["text"])),
    _tool("create_shipment", "Create a shipping label for a parcel.", {
        "$defs": {
            "address": _ADDRESS,
            "dimension": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
        },
        **_obj({
            "from": {"$ref": "#/$defs/address"},
            "to": {"$ref": "#/$defs/address"},
            "parcel": _obj({
                "weight_kg": {"type": "number", "exclusiveMinimum": 0, "maximum": 70},
                "size_cm": _obj({"length": {"$ref": "#/$defs/dimension"},
                                 "width": {"$ref": "#/$defs/dimension"},
                                 "height": {"$ref": "#/$defs/dimension"}}),
            }),
            "service": {"type": "string", "enum": ["standard", "express", "overnight"]},
            "insured_value": {"type": ["number", "null"], "minimum": 0, "maximum": 100000},
        }, ["from", "to", "parcel"]),
    }),
    _tool("search_documents", "Full-text search in the knowledge base.", _obj({
        "query": _text(120, min_len=1),
        "filters": _obj({
            "author": _text(40),
            "created_after": _DATE,
            "tags": {"type": "array", "maxItems": 3, "items": _text(20, min_len=1)},
            "type": {"type": "string", "enum": ["pdf", "doc", "wiki", "email"]},
        }, []),
        "page": {"type": "integer", "minimum": 1, "maximum": 100},
        "page_size": {"type": "integer", "enum": [10, 20, 50]},
    }, ["query"])),
    _tool("transfer_money", "Transfer money between accounts.", _obj({
        "from_account": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
                         "description": "IBAN"},
        "to_account": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"},
        "amount": {"type": "number", "minimum": 0.01, "maximum": 1000000},
        "currency": _CURRENCY,
        "reference": _text(35),
        "scheduled_for": {"type": ["string", "null"], "format": "date"},
    }, ["from_account", "to_account", "amount", "currency"])),
]

_BY_NAME = {t["function"]["name"]: t for t in TOOLS}


def tool(name: str) -> dict[str, Any]:
    return _BY_NAME[name]


def schema_of(t: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema a tool's arguments must satisfy (the gateway's default when absent)."""
    return t["function"].get("parameters") or {"type": "object", "properties": {}}


# Multi-tool requests: related tools a real assistant would be given together.
_SET_NAMES: list[list[str]] = [
    ["get_weather", "get_news"],
    ["send_email", "send_sms", "create_calendar_event"],
    ["book_flight", "book_hotel", "convert_currency", "get_exchange_rates"],
    ["search_products", "add_to_cart", "get_order_status", "track_package"],
    ["create_user", "get_user_profile", "update_user_settings"],
    ["run_sql_query", "query_records"],
    ["deploy_service", "get_server_status", "refresh_cache"],
    ["create_github_issue", "create_task", "search_documents"],
    ["control_light", "set_thermostat", "play_music", "set_alarm"],
    ["create_invoice", "transfer_money", "calculate_loan_payment"],
    ["geocode_address", "reverse_geocode", "get_directions"],
    ["log_workout", "compute_statistics", "set_reminder"],
    ["translate_text", "lookup_word", "analyze_sentiment"],
    ["draw_shape", "resize_image"],
    ["create_support_ticket", "cancel_subscription", "file_expense_report"],
]
TOOL_SETS: list[list[dict[str, Any]]] = [[_BY_NAME[n] for n in names] for names in _SET_NAMES]

# A user request per tool, for prompts that make sense.
PROMPTS: dict[str, str] = {
    "get_weather": "What's the weather like in Lisbon right now, in celsius?",
    "get_stock_quote": "What is Apple's stock trading at on NASDAQ?",
    "send_email": "Email bob@example.com that the report is ready, subject 'Report'.",
    "create_calendar_event": "Put a dentist appointment in my calendar on 2025-03-14 at 09:30.",
    "book_flight": "Book a flight from JFK to LHR on 2025-06-01 for Ann Lee, age 34.",
    "search_products": "Find wireless headphones under 100 dollars that are in stock.",
    "convert_currency": "How much is 250 US dollars in euros?",
    "get_current_time": "What time is it?",
    "list_timezones": "Which time zones do you support?",
    "create_user": "Create an editor account for jane_doe with email jane@example.org.",
    "set_thermostat": "Set the living room (zone 2) heating to 21.5 degrees.",
    "translate_text": "Translate 'good morning, friends' into German.",
    "get_order_status": "Where is my order 3f2b8c4e-9d1a-4e6b-8f7c-2a1b3c4d5e6f?",
    "update_inventory": "We sold 3 units of SKU AB-1234 from the north warehouse.",
    "schedule_meeting": "Schedule a weekly sync with tom@acme.io on 2025-05-02 at 10:00 UTC.",
    "create_invoice": "Invoice ACME Corp in Berlin, DE for 2 consulting days at 800 EUR.",
    "run_sql_query": "How many users signed up last week? Use the users database.",
    "resize_image": "Resize https://example.com/cat.png to 512 pixels wide.",
    "geocode_address": "What are the coordinates of 10 Downing Street, London, GB?",
    "reverse_geocode": "What is at latitude 48.8584, longitude 2.2945?",
    "get_directions": "How do I cycle from Central Station to the Zoo, avoiding highways?",
    "set_reminder": "Remind me to call mum on 2025-04-01 at 18:00 UTC.",
    "log_workout": "I ran 5.2 km in 31 minutes today, 2025-02-10.",
    "add_to_cart": "Add two of product 7c9e6679-7425-40de-944b-e07fc1f90ae7 in size M.",
    "create_github_issue": "Open a bug in octo/widgets: the login button does nothing.",
    "deploy_service": "Deploy version 2.4.1 of the billing-api service to staging.",
    "query_records": "Show the 10 most recent orders with status shipped.",
    "send_sms": "Text +14155550123 that I'm running 10 minutes late.",
    "get_news": "Any technology news from the US today?",
    "play_music": "Play some jazz on the kitchen speaker at volume 30.",
    "control_light": "Turn on the office light at 70% brightness.",
    "calculate_loan_payment": "Monthly payment on a 300000 loan at 4.5% over 25 years?",
    "create_support_ticket": "My invoice is wrong, I'm pro customer sam@shop.com. Open a ticket.",
    "file_expense_report": "File my taxi expense of 42.50 on 2025-01-20, employee E12345, "
                           "department FIN cost center 4100.",
    "create_playlist": "Make a public playlist called Road Trip with Africa by Toto.",
    "get_exchange_rates": "Give me today's EUR rates against USD and GBP.",
    "lookup_word": "What does 'serendipity' mean? Include examples.",
    "set_alarm": "Wake me at 06:45 on weekdays.",
    "cancel_subscription": "Cancel subscription 9b2d7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4, "
                           "it's too expensive.",
    "rate_restaurant": "Give restaurant 4821 four and a half stars, lovely pasta.",
    "track_package": "Track my UPS parcel 1Z999AA10123456784.",
    "get_user_profile": "Show me the profile of user 1042, just name and email.",
    "update_user_settings": "Switch me to dark mode and turn off SMS notifications.",
    "compute_statistics": "What's the mean and median of 3, 7, 7, 19 and 24?",
    "generate_password": "Generate a 16-character password with symbols.",
    "list_files": "List the python files under /srv/app recursively.",
    "draw_shape": "Draw a red circle of radius 40.",
    "submit_form": "Submit form_12 with name 'Ann' and age 31.",
    "get_server_status": "Are the production servers healthy?",
    "refresh_cache": "Please rebuild the cache.",
    "create_task": "Add a p1 task 'write release notes' to project 17, due 2025-03-01 17:00 UTC.",
    "book_hotel": "Book a double room in Rome from 2025-07-10 to 2025-07-14 for 2 guests, "
                  "contact Ann ann@mail.com.",
    "set_out_of_office": "I'm on holiday from 2025-08-01 to 2025-08-15, set my auto-reply.",
    "analyze_sentiment": "Is this review positive? 'The battery died after two days.'",
    "create_shipment": "Ship a 2 kg box 30x20x10 cm from Lyon, FR to Porto, PT by express.",
    "search_documents": "Find wiki pages about onboarding created after 2024-01-01.",
    "transfer_money": "Send 120 EUR from DE89370400440532013000 to FR1420041010050500013M02606 "
                      "for rent.",
}


def check_corpus() -> None:
    """Every tool converts both non-strict (what requests use) and strict (so no keyword is
    silently dropped); names are unique; every tool has a prompt."""
    from gateway.grammar import schema_to_gbnf

    assert len(_BY_NAME) == len(TOOLS)
    for t in TOOLS:
        name = t["function"]["name"]
        assert name in PROMPTS, name
        for strict in (False, True):
            try:
                schema_to_gbnf(schema_of(t), strict=strict)
            except Exception as exc:
                raise AssertionError(f"{name} (strict={strict}): {exc}") from exc
