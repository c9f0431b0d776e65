"""The functions Argo adds to every expression's environment (``asInt``, ``jsonpath``, ``sprig``...)."""

from __future__ import annotations

from typing import Any

from driftloop.local.executor import exprjsonpath
from driftloop.local.executor.exprfuncs.numbers import builtin_float, builtin_int
from driftloop.local.executor.exprfuncs.sprig import SPRIG_MAP
from driftloop.local.executor.exprfuncs.strings import go_json_loads
from driftloop.local.executor.exprvalues import (
    GoFunc,
    go_json,
)


def _jsonpath(text: str, path: str) -> Any:
    return exprjsonpath.query(path, go_json_loads(text))


def _argo_to_json(value: Any) -> str:
    return go_json(value)


_ARGO_FUNCS: dict[str, Any] = {
    "asInt": GoFunc("asInt", builtin_int, ("any",), returns="unknown", typed=True),
    "asFloat": GoFunc("asFloat", builtin_float, ("any",), returns="unknown", typed=True),
    "jsonpath": GoFunc("jsonpath", _jsonpath, ("string", "string"), returns="unknown", typed=True),
    "toJson": GoFunc("toJson", _argo_to_json, ("any",), returns="string", typed=True),
}


def argo_functions() -> dict[str, Any]:
    """The functions Argo adds to every expression's environment (``GetFuncMap``): a fresh copy."""
    return {**_ARGO_FUNCS, "sprig": dict(SPRIG_MAP)}
