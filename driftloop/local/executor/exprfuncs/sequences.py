"""expr-lang's array and map builtins (first, last, get, take, keys, values, sort...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftloop.local.executor.exprfuncs.arguments import arity
from driftloop.local.executor.exprvalues import (
    ExprError,
    equal,
    go_sprint,
    go_type,
    is_number,
    less,
    to_int,
)


def builtin_first_last(name: str, index: int) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        arity(name, args, 1)
        x = args[0]
        if isinstance(x, list | str) and x:
            v = x[index]
            return v.encode()[0 if index == 0 else -1] if isinstance(x, str) else v
        return None

    return run


def builtin_get(args: list[Any]) -> Any:
    arity("get", args, 2)
    x, key = args
    if isinstance(x, dict):
        return x.get(key) if isinstance(key, str) or is_number(key) else None
    if isinstance(x, list) and is_number(key):
        i = to_int(key)
        if i < 0:
            i += len(x)
        return x[i] if 0 <= i < len(x) else None
    return None


def builtin_take(args: list[Any]) -> list[Any]:
    arity("take", args, 2)
    x, n = args
    if not isinstance(x, list):
        raise ExprError(f"cannot take from {go_kind(x)}")
    if not isinstance(n, int) or isinstance(n, bool):
        raise ExprError(f"cannot take {go_kind(n)} elements")
    return x[: max(0, min(n, len(x)))]


def go_kind(x: Any) -> str:
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


def builtin_map_fn(name: str, fn: Callable[[dict[Any, Any]], Any], what: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        arity(name, args, 1)
        if not isinstance(args[0], dict):
            raise ExprError(f"cannot {what} {go_kind(args[0])}")
        return fn(args[0])

    return run


def builtin_from_pairs(args: list[Any]) -> dict[Any, Any]:
    arity("fromPairs", args, 1)
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


def builtin_list_fn(name: str, fn: Callable[[list[Any]], Any], what: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        arity(name, args, 1)
        if not isinstance(args[0], list):
            raise ExprError(f"cannot {what} {go_kind(args[0])}")
        return fn(args[0])

    return run


def builtin_uniq(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(equal(v, r) for r in out):
            out.append(v)
    return out


def builtin_concat(args: list[Any]) -> list[Any]:
    if not args:
        raise ExprError("invalid number of arguments (expected at least 1, got 0)")
    out: list[Any] = []
    for a in args:
        if not isinstance(a, list):
            raise ExprError(f"cannot concat {go_kind(a)}")
        out.extend(a)
    return out


def builtin_flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(builtin_flatten(v))
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


def builtin_sort(args: list[Any]) -> list[Any]:
    arity("sort", args, 1, 2)
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
