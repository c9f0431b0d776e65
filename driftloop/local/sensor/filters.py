"""Argo Events dependency filters — ``data`` and ``exprs`` — evaluated as Argo Events v1.9 does.

Semantics (https://argoproj.github.io/argo-events/sensors/filters/, ``sensors/dependencies/filter.go``):

* A data filter reads ``path`` (gjson) from the event data; a missing path is an error, i.e. false.
  With ``template`` the value is first rendered through a Go template with ``.Input`` = the value.
  ``type: bool`` compares with ``strconv.ParseBool`` of each ``value``; ``type: number`` parses both
  sides as floats and applies ``comparator`` (``>=``, ``>``, ``=`` (default), ``!=``, ``<``, ``<=``);
  ``type: string`` treats every ``value`` as an **unanchored regular expression** (``regexp.Match``),
  ``comparator`` ``=`` (match) or ``!=`` (no match). One matching value is enough.
* An expr filter resolves each ``fields`` entry (name ← gjson path; missing = false) and evaluates
  ``expr`` (govaluate syntax) with those variables — with driftloop's safe evaluator, never ``eval``.
* ``dataLogicalOperator`` / ``exprLogicalOperator`` combine filters of one kind; ``filtersLogicalOperator``
  combines the kinds present. ``""`` means ``and``; values are lower case. A kind with no filters does not
  take part (it can neither veto an ``and`` nor satisfy an ``or``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftloop.errors import DriftloopError
from driftloop.gosemantics import GoRegexpError, regexp, regexp_error
from driftloop.local.sensor.gotemplate import TemplateError, render
from driftloop.local.sensor.path import MISSING, as_string, get

__all__ = ["FilterResult", "SpecError", "evaluate_filters"]

_NUMERIC = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "=": lambda a, b: a == b,
    "": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_BOOL_FALSE = {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


class SpecError(ValueError):
    """The Sensor spec itself is unusable (bad operator, bad regex, unsupported type)."""


@dataclass
class FilterResult:
    """Outcome of one filter, for ``driftloop sensor test`` and the logs."""

    kind: str  # data | expr
    name: str  # the path or the expression
    passed: bool
    detail: str = ""


@dataclass
class Evaluation:
    passed: bool
    results: list[FilterResult] = field(default_factory=list)


def _operator(value: Any, where: str) -> str:
    op = str(value or "and")
    if op not in ("and", "or"):
        raise SpecError(f"{where} must be 'and' or 'or' (lower case), got {value!r}")
    return op


def _combine(op: str, outcomes: list[bool]) -> bool:
    return all(outcomes) if op == "and" else any(outcomes)


def _parse_bool(text: str) -> bool:
    if text in _BOOL:
        return True
    if text in _BOOL_FALSE:
        return False
    raise SpecError(f"data filter value {text!r} is not a bool")


def _gjson_bool(raw: Any, text: str, templated: bool) -> bool:
    """gjson ``Result.Bool()``: JSON true, a non-zero number, or a string ParseBool accepts."""
    if not templated and isinstance(raw, bool):
        return raw
    if not templated and isinstance(raw, int | float):
        return raw != 0
    return text.lower() in ("1", "t", "true")


def _data_filter(f: Mapping[str, Any], data: Any) -> FilterResult:
    path = str(f.get("path") or "")
    values = [str(v) for v in f.get("value") or []]
    kind, comparator = str(f.get("type") or ""), str(f.get("comparator") or "")
    raw = get(data, path)
    if raw is MISSING:
        return FilterResult("data", path, False, "path does not exist")
    if not values:
        return FilterResult("data", path, False, "no values specified")
    text = as_string(raw)
    if f.get("template"):
        try:
            text = render(str(f["template"]), {"Input": text})
        except TemplateError as exc:
            return FilterResult("data", path, False, f"template failed: {exc}")
        if text in ("", "<no value>"):
            return FilterResult("data", path, False, "template gave no output")
    if kind == "bool":
        actual = _gjson_bool(raw, text, bool(f.get("template")))
        ok = any(_parse_bool(v) == actual for v in values)
    elif kind == "number":
        op = _NUMERIC.get(comparator)
        if op is None:
            raise SpecError(f"data filter comparator {comparator!r} is not one of >=, >, =, !=, <, <=")
        try:
            actual_n = float(text)
        except ValueError:
            return FilterResult("data", path, False, f"{text!r} is not a number")
        ok = any(op(actual_n, float(v)) for v in values)
    elif kind == "string":
        if comparator not in ("", "=", "!="):
            raise SpecError(f"string data filter comparator must be = or !=, got {comparator!r}")
        try:
            patterns = [regexp(v) for v in values]
        except GoRegexpError as exc:
            raise SpecError(f"data filter value is not a regular expression: {regexp_error(exc)}") from None
        matched = [p.search(text) is not None for p in patterns]
        ok = any(not m for m in matched) if comparator == "!=" else any(matched)
    else:
        raise SpecError(f"data filter type {kind!r} is not one of string, number, bool")
    return FilterResult("data", path, ok, f"{text!r} {comparator or '='} {values}")


def _expr_filter(f: Mapping[str, Any], data: Any) -> FilterResult:
    from driftloop.local.executor import evaluate_govaluate

    expr = str(f.get("expr") or "")
    fields = f.get("fields") or []
    if not expr or not fields:
        raise SpecError("an expr filter needs expr and fields")
    variables: dict[str, Any] = {}
    for fld in fields:
        value = get(data, str(fld.get("path") or ""))
        if value is MISSING:
            return FilterResult("expr", expr, False, f"path {fld.get('path')!r} does not exist")
        variables[str(fld.get("name"))] = value
    try:
        outcome = evaluate_govaluate(expr, variables)  # Argo Events evaluates exprs with govaluate
    except DriftloopError as exc:
        return FilterResult("expr", expr, False, f"evaluation failed: {exc.message}")
    return FilterResult("expr", expr, outcome is True, f"with {variables}")


def evaluate_filters(dependency: Mapping[str, Any], data: Any) -> Evaluation:
    """Evaluate a Sensor dependency's ``filters`` against the event data (e.g. ``{"body": ...}``)."""
    filters = dependency.get("filters") or {}
    unsupported = sorted(set(filters) & {"script", "context", "time"})
    if unsupported:
        raise SpecError(f"filters.{unsupported[0]} is not supported by the local sensor")
    top = _operator(dependency.get("filtersLogicalOperator"), "filtersLogicalOperator")
    results: list[FilterResult] = []
    kinds: list[bool] = []
    # Argo evaluates expr filters first, then data filters.
    kinds_in_order = (
        ("exprs", "exprLogicalOperator", _expr_filter),
        ("data", "dataLogicalOperator", _data_filter),
    )
    for key, op_key, fn in kinds_in_order:
        items = filters.get(key) or []
        if not items:
            continue
        op = _operator(filters.get(op_key), op_key)
        outcomes = []
        for f in items:
            res = fn(f, data)
            results.append(res)
            outcomes.append(res.passed)
        kinds.append(_combine(op, outcomes))
    return Evaluation(passed=_combine(top, kinds) if kinds else True, results=results)
