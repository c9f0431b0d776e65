"""sprig's list, dict, default and JSON functions."""

from __future__ import annotations

from typing import Any

from driftloop.local.executor.exprfuncs.sequences import go_kind
from driftloop.local.executor.exprfuncs.sprig_numbers import cast_int
from driftloop.local.executor.exprfuncs.sprig_strings import strval
from driftloop.local.executor.exprfuncs.strings import go_json_loads, go_split
from driftloop.local.executor.exprvalues import (
    ExprError,
    deep_equal,
    go_json,
    go_type,
    is_number,
)


def sprig_strslice(v: Any) -> list[Any]:
    if isinstance(v, list):
        return [strval(x) for x in v if x is not None]
    if v is None:
        return []
    return [strval(v)]


def sprig_list_arg(name: str, v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ExprError(f"Cannot {name} on type {go_kind(v)}")
    return v


def sprig_empty(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, bool):
        return not v
    if is_number(v):
        return v == 0
    if isinstance(v, str | list | dict):
        return len(v) == 0
    return False


def sprig_default(d: Any, *given: Any) -> Any:
    if not given or sprig_empty(given[0]):
        return d
    return given[0]


def sprig_split_map(sep: str, orig: str, n: int = -1) -> dict[str, Any]:
    return {f"_{i}": part for i, part in enumerate(go_split(orig, sep, n))}


def sprig_first(v: Any) -> Any:
    lst = sprig_list_arg("find first", v)
    return lst[0] if lst else None


def sprig_last(v: Any) -> Any:
    lst = sprig_list_arg("find last", v)
    return lst[-1] if lst else None


def sprig_rest(v: Any) -> Any:
    lst = sprig_list_arg("find rest", v)
    return lst[1:] if lst else None


def sprig_initial(v: Any) -> Any:
    lst = sprig_list_arg("find initial", v)
    return lst[:-1] if lst else None


def sprig_sort_alpha(v: Any) -> list[Any]:
    if isinstance(v, list):
        return sorted(sprig_strslice(v))
    return [strval(v)]


def sprig_concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for lst in lists:
        if not isinstance(lst, list):
            raise ExprError(f"Cannot concat type {go_kind(lst)} as list")
        out.extend(lst)
    return out


def sprig_has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if not isinstance(haystack, list):
        raise ExprError(f"Cannot find has on type {go_kind(haystack)}")
    return any(deep_equal(needle, x) for x in haystack)


def sprig_without(lst: Any, *omit: Any) -> list[Any]:
    values = sprig_list_arg("find without", lst)
    return [x for x in values if not any(deep_equal(x, o) for o in omit)]


def sprig_uniq(lst: Any) -> list[Any]:
    out: list[Any] = []
    for x in sprig_list_arg("find uniq", lst):
        if not any(deep_equal(x, o) for o in out):
            out.append(x)
    return out


def sprig_dict(*v: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(v), 2):
        out[strval(v[i])] = v[i + 1] if i + 1 < len(v) else ""
    return out


def need_map(d: Any) -> dict[Any, Any]:
    if d is None:
        return {}
    return d


def sprig_set(d: Any, key: str, value: Any) -> dict[Any, Any]:
    if d is None:
        raise ExprError("assignment to entry in nil map")
    d[key] = value
    return d


def sprig_unset(d: Any, key: str) -> Any:
    if d is not None:
        d.pop(key, None)
    return d


def sprig_dig(*args: Any) -> Any:
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


def sprig_from_json_lenient(v: str) -> Any:
    try:
        return go_json_loads(v)
    except ExprError:
        return None


def sprig_to_json_lenient(v: Any) -> str:
    try:
        return go_json(v)
    except ExprError:
        return ""


def sprig_kind_of(v: Any) -> str:
    return go_kind(v)


def sprig_fail(msg: str) -> str:
    raise ExprError(msg)


def sprig_slice(lst: Any, *indices: Any) -> Any:
    values = sprig_list_arg("slice", lst)
    start = cast_int(indices[0]) if indices else 0
    end = cast_int(indices[1]) if len(indices) > 1 else len(values)
    if not 0 <= start <= end <= len(values):
        raise ExprError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return values[start:end]


def sprig_keys(*dicts: Any) -> list[Any]:
    return [k for d in dicts for k in need_map(d)]
