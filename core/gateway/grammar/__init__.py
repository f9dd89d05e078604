"""JSON Schema → llama.cpp GBNF (exact or refused) and regex → GBNF."""

from .errors import GrammarLimits, SchemaError
from .gbnf import GrammarBuilder, literal, rename_rules
from .regex import regex_to_gbnf
from .schema import (
    cache_clear,
    cache_info,
    cached_schema_to_gbnf,
    json_object_gbnf,
    json_value_gbnf,
    schema_to_gbnf,
)

__all__ = [
    "GrammarBuilder",
    "GrammarLimits",
    "SchemaError",
    "cache_clear",
    "cache_info",
    "cached_schema_to_gbnf",
    "json_object_gbnf",
    "json_value_gbnf",
    "literal",
    "regex_to_gbnf",
    "rename_rules",
    "schema_to_gbnf",
]
