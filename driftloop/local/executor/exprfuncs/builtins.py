"""expr-lang's builtin function table, the unsupported builtins and their static return types."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from driftloop.local.executor.exprfuncs.arguments import arity, need_str
from driftloop.local.executor.exprfuncs.numbers import (
    builtin_abs,
    builtin_bit,
    builtin_bitnot,
    builtin_float,
    builtin_int,
    builtin_mean,
    builtin_median,
    builtin_min_max,
    builtin_rounding,
    round_half_away,
)
from driftloop.local.executor.exprfuncs.sequences import (
    builtin_concat,
    builtin_first_last,
    builtin_flatten,
    builtin_from_pairs,
    builtin_get,
    builtin_list_fn,
    builtin_map_fn,
    builtin_sort,
    builtin_take,
    builtin_uniq,
)
from driftloop.local.executor.exprfuncs.strings import (
    builtin_affix_test,
    builtin_byte_index,
    builtin_from_base64,
    builtin_from_json,
    builtin_join,
    builtin_repeat,
    builtin_replace,
    builtin_split,
    builtin_string,
    builtin_to_base64,
    builtin_to_json,
    builtin_trim,
    builtin_trim_affix,
)
from driftloop.local.executor.exprvalues import (
    ExprError,
    go_type,
)


def _len(args: list[Any]) -> int:
    arity("len", args, 1)
    x = args[0]
    if isinstance(x, list | dict):
        return len(x)
    if isinstance(x, str):
        return len(x)  # runes
    raise ExprError(f"invalid argument for len (type {go_type(x)})")


def _type(args: list[Any]) -> str:
    arity("type", args, 1)
    x = args[0]
    if x is None:
        return "nil"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    if isinstance(x, dict):
        return "map"
    return "func"


def _one(name: str, fn: Callable[[Any], Any]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        arity(name, args, 1)
        return fn(args[0])

    return run


BUILTINS: dict[str, Callable[[list[Any]], Any]] = {
    "len": _len,
    "type": _type,
    "abs": builtin_abs,
    "ceil": builtin_rounding("ceil", math.ceil),
    "floor": builtin_rounding("floor", math.floor),
    "round": builtin_rounding("round", round_half_away),
    "int": _one("int", builtin_int),
    "float": _one("float", builtin_float),
    "string": builtin_string,
    "trim": builtin_trim,
    "trimPrefix": builtin_trim_affix("trimPrefix", suffix=False),
    "trimSuffix": builtin_trim_affix("trimSuffix", suffix=True),
    "upper": _one("upper", lambda s: need_str(s).upper()),
    "lower": _one("lower", lambda s: need_str(s).lower()),
    "split": builtin_split("split", after=False),
    "splitAfter": builtin_split("splitAfter", after=True),
    "replace": builtin_replace,
    "repeat": builtin_repeat,
    "join": builtin_join,
    "indexOf": lambda a: builtin_byte_index(a, "indexOf", last=False),
    "lastIndexOf": lambda a: builtin_byte_index(a, "lastIndexOf", last=True),
    "hasPrefix": builtin_affix_test("hasPrefix", suffix=False),
    "hasSuffix": builtin_affix_test("hasSuffix", suffix=True),
    "max": builtin_min_max("max"),
    "min": builtin_min_max("min"),
    "mean": builtin_mean,
    "median": builtin_median,
    "toJSON": builtin_to_json,
    "fromJSON": builtin_from_json,
    "toBase64": builtin_to_base64,
    "fromBase64": builtin_from_base64,
    "first": builtin_first_last("first", 0),
    "last": builtin_first_last("last", -1),
    "get": builtin_get,
    "take": builtin_take,
    "keys": builtin_map_fn("keys", lambda m: list(m), "get keys from"),
    "values": builtin_map_fn("values", lambda m: list(m.values()), "get values from"),
    "toPairs": builtin_map_fn("toPairs", lambda m: [[k, v] for k, v in m.items()], "transform"),
    "fromPairs": builtin_from_pairs,
    "reverse": builtin_list_fn("reverse", lambda v: list(reversed(v)), "reverse"),
    "uniq": builtin_list_fn("uniq", builtin_uniq, "uniq"),
    "concat": builtin_concat,
    "flatten": builtin_list_fn("flatten", builtin_flatten, "flatten"),
    "sort": builtin_sort,
    "bitand": builtin_bit("bitand", lambda x, y: x & y),
    "bitor": builtin_bit("bitor", lambda x, y: x | y),
    "bitxor": builtin_bit("bitxor", lambda x, y: x ^ y),
    "bitnand": builtin_bit("bitnand", lambda x, y: x & ~y),
    "bitshl": builtin_bit("bitshl", lambda x, y: x << y),
    "bitshr": builtin_bit("bitshr", lambda x, y: x >> y),
    "bitushr": builtin_bit("bitushr", lambda x, y: (x % 2**64) >> y),
    "bitnot": builtin_bitnot,
}

#: expr-lang builtins Argo has that the local executor refuses (dates and durations).
UNSUPPORTED_BUILTINS = {
    "now": "dates and times",
    "duration": "dates and times",
    "date": "dates and times",
    "timezone": "dates and times",
}

#: the static result type of each builtin, for the checker (expr-lang's builtin signatures)
BUILTIN_RETURNS: dict[str, str] = {
    "len": "int",
    "type": "string",
    "ceil": "float",
    "floor": "float",
    "round": "float",
    "int": "int",
    "float": "float",
    "string": "string",
    "trim": "string",
    "trimPrefix": "string",
    "trimSuffix": "string",
    "upper": "string",
    "lower": "string",
    "split": "array",
    "splitAfter": "array",
    "replace": "string",
    "repeat": "string",
    "join": "string",
    "indexOf": "int",
    "lastIndexOf": "int",
    "hasPrefix": "bool",
    "hasSuffix": "bool",
    "mean": "float",
    "median": "float",
    "toJSON": "string",
    "toBase64": "string",
    "fromBase64": "string",
    "keys": "array",
    "values": "array",
    "toPairs": "array",
    "fromPairs": "map",
    "reverse": "array",
    "uniq": "array",
    "concat": "array",
    "flatten": "array",
    "sort": "array",
    "bitand": "int",
    "bitor": "int",
    "bitxor": "int",
    "bitnand": "int",
    "bitnot": "int",
    "bitshl": "int",
    "bitshr": "int",
    "bitushr": "int",
    # predicate builtins
    "all": "bool",
    "none": "bool",
    "any": "bool",
    "one": "bool",
    "filter": "array",
    "map": "array",
    "count": "int",
    "findIndex": "int",
    "findLastIndex": "int",
    "groupBy": "map",
    "sortBy": "array",
}
