"""The functions an Argo expression can call: expr-lang's builtins, Argo's own and a subset of sprig.

Argo's environment (``util/expr/env/env.go``) is expr-lang's builtins plus ``asInt`` / ``asFloat``
(expr-lang's ``int`` / ``float``), ``jsonpath``, ``toJson`` and ``sprig`` (sprig v3's generic function
map without ``env`` / ``expandenv``). Every sprig name is present; the ones not implemented here
raise an error naming the function (never a guessed value). Sprig's argument order is its template
order: ``sprig.trimSuffix("-", s)``, ``sprig.replace("old", "new", s)``, ``sprig.join(",", list)``.

Implemented sprig functions (see :data:`SPRIG_IMPLEMENTED`): strings (trim, upper, lower, title,
untitle, substr, repeat, trimAll, trimPrefix, trimSuffix, nospace, contains, hasPrefix, hasSuffix,
quote, squote, cat, indent, nindent, replace, plural, trunc, abbrev, toString), hashes and encodings
(sha1sum, sha256sum, sha512sum, adler32sum, b64enc, b64dec, b32enc, b32dec), numbers (atoi, int, int64,
float64, toDecimal, add, add1, sub, mul, div, mod, max, biggest, min, maxf, minf, floor, ceil, round,
addf, add1f, subf, mulf, divf, until, untilStep, seq), lists (split, splitList, splitn, toStrings, join,
sortAlpha, list, tuple, first, rest, last, initial, reverse, uniq, compact, append, push, prepend,
concat, has, without), dicts (dict, get, set, unset, hasKey, keys, values, pick, omit, pluck, dig),
defaults and JSON (default, empty, coalesce, all, any, ternary, fromJson, mustFromJson, toJson,
mustToJson, toPrettyJson, toRawJson), regular expressions (regexMatch, regexFind, regexFindAll,
regexReplaceAll, regexReplaceAllLiteral, regexSplit, regexQuoteMeta and their ``must`` forms), paths
(base, dir, clean, ext, isAbs), reflection (typeOf, kindOf, kindIs, typeIs, deepEqual), fail, uuidv4,
hello, and date formatting with Go layouts (date, dateInZone, date_in_zone, htmlDate, htmlDateInZone:
an int is Unix seconds, any other value — a string too — is now, as in sprig; ``Local`` is this
machine's zone). Not implemented (an error names them): the other date functions (now, toDate,
dateModify, duration, ago...), crypto and certificates, semver, random strings, network and URL
functions, the case-changing helpers (snakecase, camelcase, kebabcase, swapcase, wrap...) and the
``must*`` list helpers.

expr-lang builtins implemented (see :data:`BUILTINS` and the predicate builtins in :mod:`.exprlang`):
len, type, abs, ceil, floor, round, int, float, string, trim, trimPrefix, trimSuffix, upper, lower,
split, splitAfter, replace, repeat, join, indexOf, lastIndexOf, hasPrefix, hasSuffix, max, min, mean,
median, toJSON, fromJSON, toBase64, fromBase64, first, last, get, take, keys, values, toPairs,
fromPairs, reverse, uniq, concat, flatten, sort, bitand, bitor, bitxor, bitnand, bitnot, bitshl,
bitshr, bitushr. Not implemented (an error names them): now, duration, date, timezone.

Regular expressions are Go RE2 in Argo and Python ``re`` here; the common syntax is the same.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import math
import re
import uuid
import zlib
import zoneinfo
from collections.abc import Callable
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from driftloop.local.executor import exprjsonpath
from driftloop.local.executor.exprvalues import (
    ExprError,
    GoFunc,
    deep_equal,
    equal,
    go_json,
    go_sprint,
    go_type,
    is_number,
    less,
    parse_go_float,
    parse_go_int,
    to_int,
    wrap_int,
)

__all__ = [
    "BUILTINS",
    "BUILTIN_RETURNS",
    "SPRIG_IMPLEMENTED",
    "UNSUPPORTED_BUILTINS",
    "argo_functions",
    "builtin_float",
    "builtin_int",
    "go_regex",
]


def _need_str(value: Any) -> str:
    """A Go type assertion ``value.(string)`` (expr-lang's builtins do this)."""
    if not isinstance(value, str):
        raise ExprError(f"interface conversion: interface {{}} is {go_type(value)}, not string")
    return value


def _arity(name: str, args: list[Any], *counts: int) -> None:
    if len(args) not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise ExprError(f"invalid number of arguments for {name} (expected {expected}, got {len(args)})")


def go_regex(pattern: Any) -> re.Pattern[str]:
    """Compile a Go (RE2) regular expression with Python's ``re`` (common syntax only)."""
    text = _need_str(pattern)
    translated = text.replace("\\z", "\\Z")
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ExprError(f"error parsing regexp: {exc}: `{text}`") from None


# --------------------------------------------------------------------------------------------------
# expr-lang builtins


def builtin_int(x: Any) -> int:
    """expr-lang's ``int`` (Argo's ``asInt``): numbers truncate, strings must be base-10 integers."""
    if isinstance(x, bool):
        raise ExprError("invalid operation: int(bool)")
    if isinstance(x, str):
        n = parse_go_int(x)
        if n is None:
            raise ExprError(f"invalid operation: int({x})")
        return n
    if is_number(x):
        return to_int(x)
    raise ExprError(f"invalid operation: int({go_type(x)})")


def builtin_float(x: Any) -> float:
    """expr-lang's ``float`` (Argo's ``asFloat``)."""
    if isinstance(x, bool):
        raise ExprError("invalid operation: float(bool)")
    if isinstance(x, str):
        f = parse_go_float(x)
        if f is None:
            raise ExprError(f"invalid operation: float({x})")
        return f
    if is_number(x):
        return float(x)
    raise ExprError(f"invalid operation: float({go_type(x)})")


def _len(args: list[Any]) -> int:
    _arity("len", args, 1)
    x = args[0]
    if isinstance(x, list | dict):
        return len(x)
    if isinstance(x, str):
        return len(x)  # runes
    raise ExprError(f"invalid argument for len (type {go_type(x)})")


def _type(args: list[Any]) -> str:
    _arity("type", args, 1)
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


def _abs(args: list[Any]) -> Any:
    _arity("abs", args, 1)
    x = args[0]
    if not is_number(x):
        raise ExprError(f"invalid argument for abs (type {go_type(x)})")
    return wrap_int(abs(x)) if isinstance(x, int) else abs(x)


def _round_half_away(f: float) -> float:
    if math.isnan(f) or math.isinf(f):
        return f
    r = math.floor(abs(f) + 0.5)
    return math.copysign(r, f)


def _rounding(name: str, fn: Callable[[float], float]) -> Callable[[list[Any]], float]:
    def run(args: list[Any]) -> float:
        _arity(name, args, 1)
        x = args[0]
        if not is_number(x):
            raise ExprError(f"invalid argument for {name} (type {go_type(x)})")
        if isinstance(x, int):
            return float(x)
        if math.isnan(x) or math.isinf(x):
            return x
        return float(fn(x))

    return run


def _one(name: str, fn: Callable[[Any], Any]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        _arity(name, args, 1)
        return fn(args[0])

    return run


def _trim(args: list[Any]) -> str:
    _arity("trim", args, 1, 2)
    s = _need_str(args[0])
    return s.strip() if len(args) == 1 else s.strip(_need_str(args[1]))


def _trim_affix(name: str, suffix: bool) -> Callable[[list[Any]], str]:
    def run(args: list[Any]) -> str:
        _arity(name, args, 1, 2)
        s = _need_str(args[0])
        cut = _need_str(args[1]) if len(args) == 2 else " "
        if suffix:
            return s[: -len(cut)] if cut and s.endswith(cut) else s
        return s[len(cut) :] if s.startswith(cut) else s

    return run


def go_split(s: str, sep: str, n: int = -1, after: bool = False) -> list[Any]:
    """``strings.SplitN`` / ``SplitAfterN`` (``sep == ""`` splits into characters; ``n == 0`` -> none)."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return list(chars)
    parts: list[Any] = []
    rest = s
    while n < 0 or len(parts) < n - 1:
        i = rest.find(sep)
        if i < 0:
            break
        parts.append(rest[: i + len(sep)] if after else rest[:i])
        rest = rest[i + len(sep) :]
    parts.append(rest)
    return parts


def _split(name: str, after: bool) -> Callable[[list[Any]], list[Any]]:
    def run(args: list[Any]) -> list[Any]:
        _arity(name, args, 2, 3)
        n = to_int(args[2]) if len(args) == 3 else -1
        return go_split(_need_str(args[0]), _need_str(args[1]), n, after)

    return run


def _replace(args: list[Any]) -> str:
    _arity("replace", args, 3, 4)
    s, old, new = (_need_str(a) for a in args[:3])
    n = to_int(args[3]) if len(args) == 4 else -1
    return go_replace(s, old, new, n)


def go_replace(s: str, old: str, new: str, n: int = -1) -> str:
    """``strings.Replace`` (an empty ``old`` matches before every character and at the end)."""
    if n == 0 or (old == new):
        return s
    if old == "":
        out, count = [], 0
        for ch in s:
            if n < 0 or count < n:
                out.append(new)
                count += 1
            out.append(ch)
        if n < 0 or count < n:
            out.append(new)
        return "".join(out)
    return s.replace(old, new, n if n > 0 else -1)


def _repeat(args: list[Any]) -> str:
    _arity("repeat", args, 2)
    s, n = _need_str(args[0]), to_int(args[1])
    if n < 0:
        raise ExprError(f"invalid argument for repeat (expected positive integer, got {n})")
    if n > 1_000_000:
        raise ExprError("memory budget exceeded")
    return s * n


def _join(args: list[Any]) -> str:
    _arity("join", args, 1, 2)
    glue = _need_str(args[1]) if len(args) == 2 else ""
    if not isinstance(args[0], list):
        raise ExprError(f"invalid argument for join (type {go_type(args[0])})")
    return glue.join(_need_str(v) for v in args[0])


def _byte_index(args: list[Any], name: str, last: bool) -> int:
    _arity(name, args, 2)
    s, sub = _need_str(args[0]).encode(), _need_str(args[1]).encode()
    return s.rfind(sub) if last else s.find(sub)


def _affix_test(name: str, suffix: bool) -> Callable[[list[Any]], bool]:
    def run(args: list[Any]) -> bool:
        _arity(name, args, 2)
        s, p = _need_str(args[0]), _need_str(args[1])
        return s.endswith(p) if suffix else s.startswith(p)

    return run


def _numbers(name: str, args: list[Any], depth: int = 0) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(_numbers(name, a, depth + 1))
        elif is_number(a):
            out.append(a)
        else:
            raise ExprError(f"invalid argument for {name} (type {go_type(a)})")
    return out


def _min_max(name: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        if not args:
            raise ExprError(f"not enough arguments to call {name}")
        if len(args) == 1 and not isinstance(args[0], list) and not is_number(args[0]):
            return args[0]
        values = _numbers(name, args)
        if not values:
            return None
        best = values[0]
        for v in values[1:]:
            if (name == "max" and less("<", best, v)) or (name == "min" and less(">", best, v)):
                best = v
        return best

    return run


def _mean(args: list[Any]) -> float:
    values = _numbers("mean", args)
    return float(sum(float(v) for v in values) / len(values)) if values else 0.0


def _median(args: list[Any]) -> float:
    values = sorted(float(v) for v in _numbers("median", args))
    if not values:
        return 0.0
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def go_json_loads(text: str) -> Any:
    """``json.Unmarshal`` into ``interface{}``: every number is a float64."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_no_constant)
    except ValueError as exc:
        raise ExprError(f"invalid JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _to_json(args: list[Any]) -> str:
    _arity("toJSON", args, 1)
    return go_json(args[0], indent="  ")


def _from_json(args: list[Any]) -> Any:
    _arity("fromJSON", args, 1)
    return go_json_loads(_need_str(args[0]))


def _to_base64(args: list[Any]) -> str:
    _arity("toBase64", args, 1)
    return base64.b64encode(_need_str(args[0]).encode()).decode()


def _from_base64(args: list[Any]) -> str:
    _arity("fromBase64", args, 1)
    try:
        return base64.b64decode(_need_str(args[0]).encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        raise ExprError(f"illegal base64 data in {args[0]!r}") from None


def _first_last(name: str, index: int) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        _arity(name, args, 1)
        x = args[0]
        if isinstance(x, list | str) and x:
            v = x[index]
            return v.encode()[0 if index == 0 else -1] if isinstance(x, str) else v
        return None

    return run


def _get(args: list[Any]) -> Any:
    _arity("get", args, 2)
    x, key = args
    if isinstance(x, dict):
        return x.get(key) if isinstance(key, str) or is_number(key) else None
    if isinstance(x, list) and is_number(key):
        i = to_int(key)
        if i < 0:
            i += len(x)
        return x[i] if 0 <= i < len(x) else None
    return None


def _take(args: list[Any]) -> list[Any]:
    _arity("take", args, 2)
    x, n = args
    if not isinstance(x, list):
        raise ExprError(f"cannot take from {_kind(x)}")
    if not isinstance(n, int) or isinstance(n, bool):
        raise ExprError(f"cannot take {_kind(n)} elements")
    return x[: max(0, min(n, len(x)))]


def _kind(x: Any) -> str:
    """Go's ``reflect.Kind`` name."""
    if x is None:
        return "invalid"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float64"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "slice"
    if isinstance(x, dict):
        return "map"
    return "func"


def _map_fn(name: str, fn: Callable[[dict[Any, Any]], Any], what: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        _arity(name, args, 1)
        if not isinstance(args[0], dict):
            raise ExprError(f"cannot {what} {_kind(args[0])}")
        return fn(args[0])

    return run


def _from_pairs(args: list[Any]) -> dict[Any, Any]:
    _arity("fromPairs", args, 1)
    if not isinstance(args[0], list):
        raise ExprError(f"cannot transform {go_sprint(args[0])} from pairs")
    out: dict[Any, Any] = {}
    for pair in args[0]:
        if not isinstance(pair, list):
            raise ExprError(f"invalid pair {go_sprint(pair)}")
        if len(pair) != 2:
            raise ExprError(f"invalid pair length {go_sprint(pair)}")
        out[pair[0]] = pair[1]
    return out


def _list_fn(name: str, fn: Callable[[list[Any]], Any], what: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        _arity(name, args, 1)
        if not isinstance(args[0], list):
            raise ExprError(f"cannot {what} {_kind(args[0])}")
        return fn(args[0])

    return run


def _uniq(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(equal(v, r) for r in out):
            out.append(v)
    return out


def _concat(args: list[Any]) -> list[Any]:
    if not args:
        raise ExprError("invalid number of arguments (expected at least 1, got 0)")
    out: list[Any] = []
    for a in args:
        if not isinstance(a, list):
            raise ExprError(f"cannot concat {_kind(a)}")
        out.extend(a)
    return out


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def sort_values(values: list[Any], desc: bool = False) -> list[Any]:
    """expr-lang's ``runtime.Sort``: numbers by value, strings lexically, mixed types are an error."""
    import functools

    def cmp(a: Any, b: Any) -> int:
        if less("<", a, b):
            return -1
        if less("<", b, a):
            return 1
        return 0

    return sorted(values, key=functools.cmp_to_key(cmp), reverse=desc)


def _sort(args: list[Any]) -> list[Any]:
    _arity("sort", args, 1, 2)
    if not isinstance(args[0], list):
        raise ExprError(f"invalid argument for sort (type {go_type(args[0])})")
    desc = False
    if len(args) == 2:
        order = args[1]
        if not isinstance(order, str):
            raise ExprError(f"sort order argument must be a string (got {go_type(order)})")
        if order not in ("asc", "desc"):
            raise ExprError(f"invalid order {order}, expected asc or desc")
        desc = order == "desc"
    return sort_values(list(args[0]), desc)


def _bit(name: str, fn: Callable[[int, int], int]) -> Callable[[list[Any]], int]:
    def run(args: list[Any]) -> int:
        _arity(name, args, 2)
        x, y = args
        if not (isinstance(x, int) and isinstance(y, int)) or isinstance(x, bool) or isinstance(y, bool):
            raise ExprError(
                f"cannot use {go_type(x if not isinstance(x, int) else y)} as argument to call {name}"
            )
        if name in ("bitshl", "bitshr", "bitushr") and y < 0:
            raise ExprError(f"invalid operation: negative shift count {y} (type int)")
        return wrap_int(fn(x, y))

    return run


def _bitnot(args: list[Any]) -> int:
    _arity("bitnot", args, 1)
    if not isinstance(args[0], int) or isinstance(args[0], bool):
        raise ExprError(f"cannot use {go_type(args[0])} as argument to call bitnot")
    return ~args[0]


def _string(args: list[Any]) -> str:
    _arity("string", args, 1)
    return go_sprint(args[0])


#: expr-lang builtins (the non-predicate ones) by name: each takes the evaluated arguments.
BUILTINS: dict[str, Callable[[list[Any]], Any]] = {
    "len": _len,
    "type": _type,
    "abs": _abs,
    "ceil": _rounding("ceil", math.ceil),
    "floor": _rounding("floor", math.floor),
    "round": _rounding("round", _round_half_away),
    "int": _one("int", builtin_int),
    "float": _one("float", builtin_float),
    "string": _string,
    "trim": _trim,
    "trimPrefix": _trim_affix("trimPrefix", suffix=False),
    "trimSuffix": _trim_affix("trimSuffix", suffix=True),
    "upper": _one("upper", lambda s: _need_str(s).upper()),
    "lower": _one("lower", lambda s: _need_str(s).lower()),
    "split": _split("split", after=False),
    "splitAfter": _split("splitAfter", after=True),
    "replace": _replace,
    "repeat": _repeat,
    "join": _join,
    "indexOf": lambda a: _byte_index(a, "indexOf", last=False),
    "lastIndexOf": lambda a: _byte_index(a, "lastIndexOf", last=True),
    "hasPrefix": _affix_test("hasPrefix", suffix=False),
    "hasSuffix": _affix_test("hasSuffix", suffix=True),
    "max": _min_max("max"),
    "min": _min_max("min"),
    "mean": _mean,
    "median": _median,
    "toJSON": _to_json,
    "fromJSON": _from_json,
    "toBase64": _to_base64,
    "fromBase64": _from_base64,
    "first": _first_last("first", 0),
    "last": _first_last("last", -1),
    "get": _get,
    "take": _take,
    "keys": _map_fn("keys", lambda m: list(m), "get keys from"),
    "values": _map_fn("values", lambda m: list(m.values()), "get values from"),
    "toPairs": _map_fn("toPairs", lambda m: [[k, v] for k, v in m.items()], "transform"),
    "fromPairs": _from_pairs,
    "reverse": _list_fn("reverse", lambda v: list(reversed(v)), "reverse"),
    "uniq": _list_fn("uniq", _uniq, "uniq"),
    "concat": _concat,
    "flatten": _list_fn("flatten", _flatten, "flatten"),
    "sort": _sort,
    "bitand": _bit("bitand", lambda x, y: x & y),
    "bitor": _bit("bitor", lambda x, y: x | y),
    "bitxor": _bit("bitxor", lambda x, y: x ^ y),
    "bitnand": _bit("bitnand", lambda x, y: x & ~y),
    "bitshl": _bit("bitshl", lambda x, y: x << y),
    "bitshr": _bit("bitshr", lambda x, y: x >> y),
    "bitushr": _bit("bitushr", lambda x, y: (x % 2**64) >> y),
    "bitnot": _bitnot,
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


# --------------------------------------------------------------------------------------------------
# Argo's functions


def _jsonpath(text: str, path: str) -> Any:
    return exprjsonpath.query(path, go_json_loads(text))


def _argo_to_json(value: Any) -> str:
    return go_json(value)


# --------------------------------------------------------------------------------------------------
# sprig (github.com/Masterminds/sprig/v3, as Argo imports it)


def _strval(v: Any) -> str:
    return v if isinstance(v, str) else go_sprint(v)


def _cast_int(v: Any) -> int:
    """spf13/cast ``ToInt64`` (errors give 0, as sprig ignores them)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return to_int(v)
    if isinstance(v, str):
        if v == "":
            return 0
        text = v
        if "." in text:
            m = re.fullmatch(r"([-+]?\d*)(\.\d*)?", text)
            if m:
                text = m.group(1)
                text = {"-": "-0", "+": "+0", "": "0"}.get(text, text)
        n = parse_go_int(text, base0=True)
        return 0 if n is None else n
    return 0


def _cast_float(v: Any) -> float:
    """spf13/cast ``ToFloat64`` (errors give 0)."""
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if is_number(v):
        return float(v)
    if isinstance(v, str):
        if v == "":
            return 0.0
        f = parse_go_float(v)
        return 0.0 if f is None else f
    return 0.0


def _sprig_div(a: Any, b: Any) -> int:
    x, y = _cast_int(a), _cast_int(b)
    if y == 0:
        raise ExprError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return wrap_int(q if (x >= 0) == (y >= 0) else -q)


def _sprig_mod(a: Any, b: Any) -> int:
    x, y = _cast_int(a), _cast_int(b)
    if y == 0:
        raise ExprError("runtime error: integer divide by zero")
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def _decimal_op(op: str) -> Callable[..., float]:
    def run(first: Any, *rest: Any) -> float:
        with localcontext() as ctx:
            ctx.prec = 60
            acc = Decimal(repr(_cast_float(first)))
            for r in rest:
                d = Decimal(repr(_cast_float(r)))
                try:
                    if op == "+":
                        acc += d
                    elif op == "-":
                        acc -= d
                    elif op == "*":
                        acc *= d
                    else:
                        acc = (acc / d).quantize(Decimal(1).scaleb(-16))
                except (InvalidOperation, ZeroDivisionError):
                    raise ExprError("decimal division by 0") from None
            return float(acc)

    return run


def _until_step(start: int, stop: int, step: int) -> list[Any]:
    if stop < start:
        return list(range(start, stop, step)) if step < 0 else []
    return list(range(start, stop, step)) if step > 0 else []


def _seq(*params: int) -> str:
    if len(params) == 0 or len(params) > 3:
        return ""
    if len(params) == 1:
        start, end = 1, params[0]
        inc = -1 if end < start else 1
        nums = _until_step(start, end + inc, inc)
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
        nums = _until_step(start, end + step, step)
    else:
        start, step, end = params
        inc = 1
        if end < start:
            inc = -1
            if step > 0:
                return ""
        nums = _until_step(start, end + inc, step)
    return " ".join(str(n) for n in nums)


def _strslice(v: Any) -> list[Any]:
    if isinstance(v, list):
        return [_strval(x) for x in v if x is not None]
    if v is None:
        return []
    return [_strval(v)]


def _sprig_list_arg(name: str, v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ExprError(f"Cannot {name} on type {_kind(v)}")
    return v


def _empty(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, bool):
        return not v
    if is_number(v):
        return v == 0
    if isinstance(v, str | list | dict):
        return len(v) == 0
    return False


def _default(d: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return d
    return given[0]


def _quote(*values: Any) -> str:
    return " ".join(go_quote(_strval(v)) for v in values if v is not None)


def go_quote(s: str) -> str:
    """Go's ``%q`` / ``strconv.Quote``."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append(
                {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[
                    ch
                ]
            )
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and ch != " ":
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _trunc(c: int, s: str) -> str:
    b = s.encode()
    if c < 0 and len(b) + c > 0:
        return b[len(b) + c :].decode("utf-8", "replace")
    if c >= 0 and len(b) > c:
        return b[:c].decode("utf-8", "replace")
    return s


def _substr(start: int, end: int, s: str) -> str:
    b = s.encode()
    try:
        if start < 0:
            if end < 0:
                raise IndexError
            return b[:end].decode("utf-8", "replace")
        if end < 0 or end > len(b):
            if start > len(b):
                raise IndexError
            return b[start:].decode("utf-8", "replace")
        if start > end:
            raise IndexError
        return b[start:end].decode("utf-8", "replace")
    except IndexError:
        raise ExprError(f"runtime error: slice bounds out of range [{start}:{end}]") from None


def _abbrev(width: int, s: str) -> str:
    if width < 4 or len(s) <= width:
        return s
    return s[: width - 3] + "..."


def _indent(spaces: int, v: str) -> str:
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


def _title(s: str) -> str:
    out, prev = [], " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def _untitle(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def _b64dec(v: str) -> str:
    try:
        return base64.b64decode(v.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base64 data ({exc})"


def _b32dec(v: str) -> str:
    try:
        return base64.b32decode(v.encode()).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base32 data ({exc})"


def _split_map(sep: str, orig: str, n: int = -1) -> dict[str, Any]:
    return {f"_{i}": part for i, part in enumerate(go_split(orig, sep, n))}


def _sprig_first(v: Any) -> Any:
    lst = _sprig_list_arg("find first", v)
    return lst[0] if lst else None


def _sprig_last(v: Any) -> Any:
    lst = _sprig_list_arg("find last", v)
    return lst[-1] if lst else None


def _sprig_rest(v: Any) -> Any:
    lst = _sprig_list_arg("find rest", v)
    return lst[1:] if lst else None


def _sprig_initial(v: Any) -> Any:
    lst = _sprig_list_arg("find initial", v)
    return lst[:-1] if lst else None


def _sort_alpha(v: Any) -> list[Any]:
    if isinstance(v, list):
        return sorted(_strslice(v))
    return [_strval(v)]


def _sprig_concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for lst in lists:
        if not isinstance(lst, list):
            raise ExprError(f"Cannot concat type {_kind(lst)} as list")
        out.extend(lst)
    return out


def _sprig_has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if not isinstance(haystack, list):
        raise ExprError(f"Cannot find has on type {_kind(haystack)}")
    return any(deep_equal(needle, x) for x in haystack)


def _sprig_without(lst: Any, *omit: Any) -> list[Any]:
    values = _sprig_list_arg("find without", lst)
    return [x for x in values if not any(deep_equal(x, o) for o in omit)]


def _sprig_uniq(lst: Any) -> list[Any]:
    out: list[Any] = []
    for x in _sprig_list_arg("find uniq", lst):
        if not any(deep_equal(x, o) for o in out):
            out.append(x)
    return out


def _dict(*v: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(v), 2):
        out[_strval(v[i])] = v[i + 1] if i + 1 < len(v) else ""
    return out


def _need_map(d: Any) -> dict[Any, Any]:
    if d is None:
        return {}
    return d


def _set(d: Any, key: str, value: Any) -> dict[Any, Any]:
    if d is None:
        raise ExprError("assignment to entry in nil map")
    d[key] = value
    return d


def _unset(d: Any, key: str) -> Any:
    if d is not None:
        d.pop(key, None)
    return d


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise ExprError("invalid number of arguments: expected at least 3")
    *keys, default, d = args
    for k in keys:
        if not isinstance(k, str):
            raise ExprError(f"reflect: Call using {go_type(k)} as type string")
    current: Any = d
    for k in keys:
        if not isinstance(current, dict) or k not in current:
            return default
        current = current[k]
    return current


def _from_json_lenient(v: str) -> Any:
    try:
        return go_json_loads(v)
    except ExprError:
        return None


def _to_json_lenient(v: Any) -> str:
    try:
        return go_json(v)
    except ExprError:
        return ""


def _regex_replace(regex: str, s: str, repl: str) -> str:
    pattern = go_regex(regex)
    return pattern.sub(lambda m: go_expand(repl, m), s)


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        m = re.match(r"\{(\w+)\}|(\w+)", template[i + 1 :])
        if not m:
            out.append("$")
            i += 1
            continue
        name = m.group(1) or m.group(2)
        i += 1 + m.end()
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:
            group = ""
        out.append(group or "")
    return "".join(out)


def _regex_find_all(regex: str, s: str, n: int) -> list[Any]:
    found = [m.group(0) for m in go_regex(regex).finditer(s)]
    return found if n < 0 else found[:n]


def _regex_split(regex: str, s: str, n: int) -> list[Any]:
    """Go's ``Regexp.Split``."""
    if n == 0:
        return []
    pattern = go_regex(regex)
    if regex and not s:
        return [""]
    parts: list[Any] = []
    beg = end = 0
    for m in pattern.finditer(s):
        if n > 0 and len(parts) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            parts.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        parts.append(s[beg:])
    return parts


def _must_regex_match(regex: str, s: str) -> bool:
    return go_regex(regex).search(s) is not None


def _regex_match(regex: str, s: str) -> bool:
    try:
        return _must_regex_match(regex, s)
    except ExprError:
        return False


def _path_clean(p: str) -> str:
    """Go's ``path.Clean``."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def _path_dir(p: str) -> str:
    i = p.rfind("/")
    return _path_clean(p[: i + 1])


def _path_ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            break
        if p[i] == ".":
            return p[i:]
    return ""


def _kind_of(v: Any) -> str:
    return _kind(v)


def _fail(msg: str) -> str:
    raise ExprError(msg)


def _sprig_max(first: Any, *rest: Any) -> int:
    return max([_cast_int(first), *(_cast_int(r) for r in rest)])


def _sprig_min(first: Any, *rest: Any) -> int:
    return min([_cast_int(first), *(_cast_int(r) for r in rest)])


def _sprig_maxf(first: Any, *rest: Any) -> float:
    acc = _cast_float(first)
    for r in rest:
        acc = max(acc, _cast_float(r))
    return acc


def _sprig_minf(first: Any, *rest: Any) -> float:
    acc = _cast_float(first)
    for r in rest:
        acc = min(acc, _cast_float(r))
    return acc


def _sprig_round(a: Any, p: int, *r_opt: float) -> float:
    round_on = r_opt[0] if r_opt else 0.5
    val = _cast_float(a)
    pow_ = math.pow(10, float(p))
    digit = pow_ * val
    frac = math.modf(digit)[0]
    rounded = math.ceil(digit) if frac >= round_on else math.floor(digit)
    return float(rounded) / pow_


def _to_decimal(v: Any) -> int:
    text = go_sprint(v)
    if not re.fullmatch(r"[+-]?[0-7]+", text):
        return 0
    n = int(text, 8)
    return wrap_int(n)


def _sprig_slice(lst: Any, *indices: Any) -> Any:
    values = _sprig_list_arg("slice", lst)
    start = _cast_int(indices[0]) if indices else 0
    end = _cast_int(indices[1]) if len(indices) > 1 else len(values)
    if not 0 <= start <= end <= len(values):
        raise ExprError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return values[start:end]


def _sprig_keys(*dicts: Any) -> list[Any]:
    return [k for d in dicts for k in _need_map(d)]


_GO_LAYOUT_TOKENS = (  # Go's reference-time layout elements, longest first where they share a prefix
    "January", "Jan", "Monday", "Mon", "MST", "2006", "002", "01", "02", "03", "04", "05", "06",
    "__2", "_2", "15", "1", "2", "3", "4", "5", "PM", "pm",
    "-070000", "-07:00:00", "-0700", "-07:00", "-07", "Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07",
)  # fmt: skip


def go_time_format(t: datetime.datetime, layout: str) -> str:
    """``time.Time.Format(layout)`` for Go's layout elements (``2006-01-02T15:04:05Z07:00``...)."""
    out, i = [], 0
    while i < len(layout):
        if layout[i] in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            j = i + 1
            while j < len(layout) and layout[j] == layout[i + 1]:
                j += 1
            if j == len(layout) or not layout[j].isdigit():
                digits = f"{t.microsecond:06d}000"[: j - i - 1]
                if layout[i + 1] == "9":
                    digits = digits.rstrip("0")
                out.append(layout[i] + digits if digits else "")
                i = j
                continue
        token = next((tok for tok in _GO_LAYOUT_TOKENS if layout.startswith(tok, i)), None)
        if token is None:
            out.append(layout[i])
            i += 1
            continue
        out.append(_go_time_token(t, token))
        i += len(token)
    return "".join(out)


def _go_time_token(t: datetime.datetime, token: str) -> str:
    offset = t.utcoffset() or datetime.timedelta(0)
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hh, rem = divmod(abs(total), 3600)
    mm, ss = divmod(rem, 60)
    if token.startswith("Z") and total == 0:
        return "Z"
    simple = {
        "January": t.strftime("%B"),
        "Jan": t.strftime("%b"),
        "Monday": t.strftime("%A"),
        "Mon": t.strftime("%a"),
        "MST": t.tzname() or "UTC",
        "2006": f"{t.year:04d}",
        "06": f"{t.year % 100:02d}",
        "002": f"{t.timetuple().tm_yday:03d}",
        "01": f"{t.month:02d}",
        "1": str(t.month),
        "02": f"{t.day:02d}",
        "_2": f"{t.day:2d}",
        "__2": f"{t.timetuple().tm_yday:3d}",
        "2": str(t.day),
        "15": f"{t.hour:02d}",
        "03": f"{(t.hour % 12) or 12:02d}",
        "3": str((t.hour % 12) or 12),
        "04": f"{t.minute:02d}",
        "4": str(t.minute),
        "05": f"{t.second:02d}",
        "5": str(t.second),
        "PM": "PM" if t.hour >= 12 else "AM",
        "pm": "pm" if t.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    body = token.lstrip("-Z")
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    if body == "07:00:00":
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    return f"{sign}{hh:02d}"


def _date_in_zone(layout: str, date: Any, zone: str) -> str:
    """sprig's ``dateInZone``: an int is Unix seconds; anything else (a string too) means now."""
    if isinstance(date, int) and not isinstance(date, bool):
        when = datetime.datetime.fromtimestamp(date, tz=datetime.UTC)
    else:
        when = datetime.datetime.now(tz=datetime.UTC)
    if zone == "Local":
        return go_time_format(when.astimezone(), layout)
    try:
        tz: datetime.tzinfo = zoneinfo.ZoneInfo(zone) if zone not in ("", "UTC") else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    return go_time_format(when.astimezone(tz), layout)


def _g(
    name: str,
    impl: Callable[..., Any],
    params: tuple[str, ...],
    variadic: bool = False,
) -> GoFunc:
    return GoFunc(f"sprig.{name}", impl, params, variadic)


_S, _I, _A, _B, _M = "string", "int", "any", "bool", "map"

_SPRIG: dict[str, GoFunc] = {
    # strings
    "trim": _g("trim", lambda s: s.strip(), (_S,)),
    "upper": _g("upper", lambda s: s.upper(), (_S,)),
    "lower": _g("lower", lambda s: s.lower(), (_S,)),
    "title": _g("title", _title, (_S,)),
    "untitle": _g("untitle", _untitle, (_S,)),
    "substr": _g("substr", _substr, (_I, _I, _S)),
    "repeat": _g("repeat", lambda n, s: s * max(n, 0), (_I, _S)),
    "trimall": _g("trimall", lambda a, b: b.strip(a), (_S, _S)),
    "trimAll": _g("trimAll", lambda a, b: b.strip(a), (_S, _S)),
    "trimSuffix": _g("trimSuffix", lambda a, b: b[: -len(a)] if a and b.endswith(a) else b, (_S, _S)),
    "trimPrefix": _g("trimPrefix", lambda a, b: b[len(a) :] if b.startswith(a) else b, (_S, _S)),
    "nospace": _g("nospace", lambda s: "".join(s.split()), (_S,)),
    "contains": _g("contains", lambda sub, s: sub in s, (_S, _S)),
    "hasPrefix": _g("hasPrefix", lambda p, s: s.startswith(p), (_S, _S)),
    "hasSuffix": _g("hasSuffix", lambda p, s: s.endswith(p), (_S, _S)),
    "quote": _g("quote", _quote, (_A,), variadic=True),
    "squote": _g("squote", lambda *v: " ".join(f"'{go_sprint(x)}'" for x in v if x is not None), (_A,), True),
    "cat": _g("cat", lambda *v: " ".join(go_sprint(x) for x in v if x is not None), (_A,), variadic=True),
    "indent": _g("indent", _indent, (_I, _S)),
    "nindent": _g("nindent", lambda n, s: "\n" + _indent(n, s), (_I, _S)),
    "replace": _g("replace", lambda old, new, src: go_replace(src, old, new), (_S, _S, _S)),
    "plural": _g("plural", lambda one, many, n: one if n == 1 else many, (_S, _S, _I)),
    "trunc": _g("trunc", _trunc, (_I, _S)),
    "abbrev": _g("abbrev", _abbrev, (_I, _S)),
    "toString": _g("toString", _strval, (_A,)),
    "sha1sum": _g("sha1sum", lambda s: hashlib.sha1(s.encode()).hexdigest(), (_S,)),
    "sha256sum": _g("sha256sum", lambda s: hashlib.sha256(s.encode()).hexdigest(), (_S,)),
    "sha512sum": _g("sha512sum", lambda s: hashlib.sha512(s.encode()).hexdigest(), (_S,)),
    "adler32sum": _g("adler32sum", lambda s: str(zlib.adler32(s.encode())), (_S,)),
    "b64enc": _g("b64enc", lambda s: base64.b64encode(s.encode()).decode(), (_S,)),
    "b64dec": _g("b64dec", _b64dec, (_S,)),
    "b32enc": _g("b32enc", lambda s: base64.b32encode(s.encode()).decode(), (_S,)),
    "b32dec": _g("b32dec", _b32dec, (_S,)),
    # numbers
    "atoi": _g("atoi", lambda s: parse_go_int(s) or 0, (_S,)),
    "int64": _g("int64", _cast_int, (_A,)),
    "int": _g("int", _cast_int, (_A,)),
    "float64": _g("float64", _cast_float, (_A,)),
    "toDecimal": _g("toDecimal", _to_decimal, (_A,)),
    "add1": _g("add1", lambda i: wrap_int(_cast_int(i) + 1), (_A,)),
    "add": _g("add", lambda *v: wrap_int(sum(_cast_int(x) for x in v)), (_A,), variadic=True),
    "sub": _g("sub", lambda a, b: wrap_int(_cast_int(a) - _cast_int(b)), (_A, _A)),
    "div": _g("div", _sprig_div, (_A, _A)),
    "mod": _g("mod", _sprig_mod, (_A, _A)),
    "mul": _g(
        "mul", lambda a, *v: wrap_int(math.prod([_cast_int(a), *(_cast_int(x) for x in v)])), (_A, _A), True
    ),
    "add1f": _g("add1f", lambda i: _decimal_op("+")(i, 1), (_A,)),
    "addf": _g("addf", lambda *v: _decimal_op("+")(0.0, *v), (_A,), variadic=True),
    "subf": _g("subf", _decimal_op("-"), (_A, _A), variadic=True),
    "divf": _g("divf", _decimal_op("/"), (_A, _A), variadic=True),
    "mulf": _g("mulf", _decimal_op("*"), (_A, _A), variadic=True),
    "biggest": _g("biggest", _sprig_max, (_A, _A), variadic=True),
    "max": _g("max", _sprig_max, (_A, _A), variadic=True),
    "min": _g("min", _sprig_min, (_A, _A), variadic=True),
    "maxf": _g("maxf", _sprig_maxf, (_A, _A), variadic=True),
    "minf": _g("minf", _sprig_minf, (_A, _A), variadic=True),
    "ceil": _g("ceil", lambda a: float(math.ceil(_cast_float(a))), (_A,)),
    "floor": _g("floor", lambda a: float(math.floor(_cast_float(a))), (_A,)),
    "round": _g("round", _sprig_round, (_A, _I, "float"), variadic=True),
    "until": _g("until", lambda n: _until_step(0, n, -1 if n < 0 else 1), (_I,)),
    "untilStep": _g("untilStep", _until_step, (_I, _I, _I)),
    "seq": _g("seq", _seq, (_I,), variadic=True),
    # lists
    "split": _g("split", lambda sep, s: _split_map(sep, s), (_S, _S)),
    "splitList": _g("splitList", lambda sep, s: go_split(s, sep), (_S, _S)),
    "splitn": _g("splitn", lambda sep, n, s: _split_map(sep, s, n), (_S, _I, _S)),
    "toStrings": _g("toStrings", _strslice, (_A,)),
    "join": _g("join", lambda sep, v: sep.join(_strslice(v)), (_S, _A)),
    "sortAlpha": _g("sortAlpha", _sort_alpha, (_A,)),
    "list": _g("list", lambda *v: list(v), (_A,), variadic=True),
    "tuple": _g("tuple", lambda *v: list(v), (_A,), variadic=True),
    "first": _g("first", _sprig_first, (_A,)),
    "rest": _g("rest", _sprig_rest, (_A,)),
    "last": _g("last", _sprig_last, (_A,)),
    "initial": _g("initial", _sprig_initial, (_A,)),
    "reverse": _g("reverse", lambda v: list(reversed(_sprig_list_arg("find reverse", v))), (_A,)),
    "uniq": _g("uniq", _sprig_uniq, (_A,)),
    "compact": _g("compact", lambda v: [x for x in _sprig_list_arg("compact", v) if not _empty(x)], (_A,)),
    "append": _g("append", lambda lst, v: [*_sprig_list_arg("push", lst), v], (_A, _A)),
    "push": _g("push", lambda lst, v: [*_sprig_list_arg("push", lst), v], (_A, _A)),
    "prepend": _g("prepend", lambda lst, v: [v, *_sprig_list_arg("prepend", lst)], (_A, _A)),
    "concat": _g("concat", _sprig_concat, (_A,), variadic=True),
    "has": _g("has", _sprig_has, (_A, _A)),
    "without": _g("without", _sprig_without, (_A, _A), variadic=True),
    "slice": _g("slice", _sprig_slice, (_A, _A), variadic=True),
    # dicts
    "dict": _g("dict", _dict, (_A,), variadic=True),
    "get": _g("get", lambda d, k: _need_map(d).get(k, ""), (_M, _S)),
    "set": _g("set", _set, (_M, _S, _A)),
    "unset": _g("unset", _unset, (_M, _S)),
    "hasKey": _g("hasKey", lambda d, k: k in _need_map(d), (_M, _S)),
    "keys": _g("keys", _sprig_keys, (_M,), variadic=True),
    "values": _g("values", lambda d: list(_need_map(d).values()), (_M,)),
    "pick": _g("pick", lambda d, *ks: {k: _need_map(d)[k] for k in ks if k in _need_map(d)}, (_M, _S), True),
    "omit": _g("omit", lambda d, *ks: {k: v for k, v in _need_map(d).items() if k not in ks}, (_M, _S), True),
    "pluck": _g("pluck", lambda k, *ds: [_need_map(d)[k] for d in ds if k in _need_map(d)], (_S, _M), True),
    "dig": _g("dig", _dig, (_A,), variadic=True),
    # defaults and JSON
    "default": _g("default", _default, (_A, _A), variadic=True),
    "empty": _g("empty", _empty, (_A,)),
    "coalesce": _g("coalesce", lambda *v: next((x for x in v if not _empty(x)), None), (_A,), True),
    "all": _g("all", lambda *v: all(not _empty(x) for x in v), (_A,), variadic=True),
    "any": _g("any", lambda *v: any(not _empty(x) for x in v), (_A,), variadic=True),
    "ternary": _g("ternary", lambda vt, vf, v: vt if v else vf, (_A, _A, _B)),
    "fromJson": _g("fromJson", _from_json_lenient, (_S,)),
    "mustFromJson": _g("mustFromJson", go_json_loads, (_S,)),
    "toJson": _g("toJson", _to_json_lenient, (_A,)),
    "mustToJson": _g("mustToJson", go_json, (_A,)),
    "toPrettyJson": _g("toPrettyJson", lambda v: go_json(v, indent="  "), (_A,)),
    "mustToPrettyJson": _g("mustToPrettyJson", lambda v: go_json(v, indent="  "), (_A,)),
    "toRawJson": _g("toRawJson", lambda v: go_json(v, escape_html=False), (_A,)),
    "mustToRawJson": _g("mustToRawJson", lambda v: go_json(v, escape_html=False), (_A,)),
    # regular expressions
    "regexMatch": _g("regexMatch", _regex_match, (_S, _S)),
    "mustRegexMatch": _g("mustRegexMatch", _must_regex_match, (_S, _S)),
    "regexFindAll": _g("regexFindAll", _regex_find_all, (_S, _S, _I)),
    "mustRegexFindAll": _g("mustRegexFindAll", _regex_find_all, (_S, _S, _I)),
    "regexFind": _g("regexFind", lambda r, s: m.group(0) if (m := go_regex(r).search(s)) else "", (_S, _S)),
    "mustRegexFind": _g(
        "mustRegexFind", lambda r, s: m.group(0) if (m := go_regex(r).search(s)) else "", (_S, _S)
    ),
    "regexReplaceAll": _g("regexReplaceAll", _regex_replace, (_S, _S, _S)),
    "mustRegexReplaceAll": _g("mustRegexReplaceAll", _regex_replace, (_S, _S, _S)),
    "regexReplaceAllLiteral": _g(
        "regexReplaceAllLiteral", lambda r, s, repl: go_regex(r).sub(lambda _m: repl, s), (_S, _S, _S)
    ),
    "mustRegexReplaceAllLiteral": _g(
        "mustRegexReplaceAllLiteral", lambda r, s, repl: go_regex(r).sub(lambda _m: repl, s), (_S, _S, _S)
    ),
    "regexSplit": _g("regexSplit", _regex_split, (_S, _S, _I)),
    "mustRegexSplit": _g("mustRegexSplit", _regex_split, (_S, _S, _I)),
    "regexQuoteMeta": _g("regexQuoteMeta", lambda s: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", s), (_S,)),
    # paths
    "base": _g("base", _path_base, (_S,)),
    "dir": _g("dir", _path_dir, (_S,)),
    "clean": _g("clean", _path_clean, (_S,)),
    "ext": _g("ext", _path_ext, (_S,)),
    "isAbs": _g("isAbs", lambda p: p.startswith("/"), (_S,)),
    # reflection, flow control, uuids
    "typeOf": _g("typeOf", go_type, (_A,)),
    "kindOf": _g("kindOf", _kind_of, (_A,)),
    "kindIs": _g("kindIs", lambda target, v: _kind(v) == target, (_S, _A)),
    "typeIs": _g("typeIs", lambda target, v: go_type(v) == target, (_S, _A)),
    "deepEqual": _g("deepEqual", deep_equal, (_A, _A)),
    "fail": _g("fail", _fail, (_S,)),
    "uuidv4": _g("uuidv4", lambda: str(uuid.uuid4()), ()),
    "hello": _g("hello", lambda: "Hello!", ()),
    # dates (from an int of Unix seconds; any other value means now, as in sprig)
    "date": _g("date", lambda layout, d: _date_in_zone(layout, d, "Local"), (_S, _A)),
    "dateInZone": _g("dateInZone", _date_in_zone, (_S, _A, _S)),
    "date_in_zone": _g("date_in_zone", _date_in_zone, (_S, _A, _S)),
    "htmlDate": _g("htmlDate", lambda d: _date_in_zone("2006-01-02", d, "Local"), (_A,)),
    "htmlDateInZone": _g("htmlDateInZone", lambda d, z: _date_in_zone("2006-01-02", d, z), (_A, _S)),
}

#: the sprig functions implemented here (every other sprig name raises an error naming it)
SPRIG_IMPLEMENTED = frozenset(_SPRIG)

# Sprig v3.3's generic function map, minus env/expandenv (Argo deletes them), minus the ones above.
_SPRIG_NOT_IMPLEMENTED = {
    **dict.fromkeys(
        [
            "ago",
            "date_modify",
            "dateModify",
            "duration",
            "durationRound",
            "must_date_modify",
            "mustDateModify",
            "mustToDate",
            "now",
            "toDate",
            "unixEpoch",
        ],
        "dates and times",
    ),
    **dict.fromkeys(
        [
            "abbrevboth",
            "initials",
            "randAlphaNum",
            "randAlpha",
            "randAscii",
            "randNumeric",
            "swapcase",
            "shuffle",
            "snakecase",
            "camelcase",
            "kebabcase",
            "wrap",
            "wrapWith",
        ],
        "string helper not implemented locally",
    ),
    **dict.fromkeys(
        [
            "bcrypt",
            "htpasswd",
            "genPrivateKey",
            "derivePassword",
            "buildCustomCert",
            "genCA",
            "genCAWithKey",
            "genSelfSignedCert",
            "genSelfSignedCertWithKey",
            "genSignedCert",
            "genSignedCertWithKey",
            "encryptAES",
            "decryptAES",
            "randBytes",
        ],
        "cryptography",
    ),
    **dict.fromkeys(["semver", "semverCompare"], "semantic versions"),
    **dict.fromkeys(
        ["getHostByName", "urlParse", "urlJoin", "osBase", "osClean", "osDir", "osExt", "osIsAbs"],
        "network, URL and OS helpers",
    ),
    **dict.fromkeys(
        [
            "mustCompact",
            "mustDeepCopy",
            "deepCopy",
            "typeIsLike",
            "merge",
            "mergeOverwrite",
            "mustMerge",
            "mustMergeOverwrite",
            "mustAppend",
            "mustPush",
            "mustPrepend",
            "mustFirst",
            "mustRest",
            "mustLast",
            "mustInitial",
            "mustReverse",
            "mustUniq",
            "mustWithout",
            "mustHas",
            "mustSlice",
            "chunk",
            "mustChunk",
        ],
        "list/dict helper not implemented locally",
    ),
}


def _sprig_map() -> dict[str, Any]:
    out: dict[str, Any] = dict(_SPRIG)
    for name, why in _SPRIG_NOT_IMPLEMENTED.items():
        out[name] = GoFunc(f"sprig.{name}", _fail, (), True, unsupported=why)
    return out


_SPRIG_MAP = _sprig_map()
_ARGO_FUNCS: dict[str, Any] = {
    "asInt": GoFunc("asInt", builtin_int, ("any",), returns="unknown", typed=True),
    "asFloat": GoFunc("asFloat", builtin_float, ("any",), returns="unknown", typed=True),
    "jsonpath": GoFunc("jsonpath", _jsonpath, ("string", "string"), returns="unknown", typed=True),
    "toJson": GoFunc("toJson", _argo_to_json, ("any",), returns="string", typed=True),
}


def argo_functions() -> dict[str, Any]:
    """The functions Argo adds to every expression's environment (``GetFuncMap``): a fresh copy."""
    return {**_ARGO_FUNCS, "sprig": dict(_SPRIG_MAP)}
