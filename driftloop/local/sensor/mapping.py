"""Trigger parameters: resolve each ``src`` from the event and write it at ``dest`` in the resource.

As Argo Events v1.9 does (``sensors/triggers/params.go``): ``dataTemplate`` is tried first (a Go
template with ``.Input`` = the event data; an error or an empty / ``<no value>`` result falls through),
then ``dataKey`` (gjson; strings unquoted, objects as JSON), then ``value`` as the default; none of them
resolving is an error. ``dest`` is an sjson path (``spec.arguments.parameters.0.value``); ``operation``
``overwrite`` (default) replaces, ``append`` / ``prepend`` concatenate with the current string there.
``contextKey`` / ``contextTemplate`` read the event context (``id``, ``type``, ``source``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from driftloop.local.sensor.gotemplate import TemplateError, render
from driftloop.local.sensor.path import MISSING, as_string, get, split

__all__ = ["MappingError", "apply_parameters", "resolve_source"]


class MappingError(ValueError):
    """A parameter cannot be resolved or written."""


def _templated(template: str, data: Any) -> str | None:
    try:
        out = render(template, {"Input": data})
    except TemplateError:
        return None
    return None if out in ("", "<no value>") else out


def resolve_source(src: Mapping[str, Any], data: Any, context: Mapping[str, Any] | None = None) -> str:
    """The string a ``TriggerParameterSource`` gives for one event."""
    context = context or {}
    if src.get("contextTemplate"):
        out = _templated(str(src["contextTemplate"]), context)
        if out is not None:
            return out
    if src.get("contextKey"):
        value = get(context, str(src["contextKey"]))
        if value is not MISSING:
            return as_string(value)
    if src.get("dataTemplate"):
        out = _templated(str(src["dataTemplate"]), data)
        if out is not None:
            return out
    if src.get("dataKey"):
        value = get(data, str(src["dataKey"]))
        if value is not MISSING:
            return as_string(value)
    if "value" in src and src["value"] is not None:
        return str(src["value"])
    raise MappingError(f"parameter source {dict(src)} resolves to nothing for this event")


def _set(doc: Any, dest: str, value: str, operation: str) -> None:
    keys = split(dest)
    node = doc
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) > len(node):
                raise MappingError(f"dest {dest!r}: index {key!r} is out of range")
            idx = int(key)
            if idx == len(node):
                node.append("" if last else {})
            if last:
                node[idx] = _op(node[idx], value, operation)
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = _op(node.get(key), value, operation)
            else:
                node = node.setdefault(key, [] if keys[i + 1].isdigit() else {})
        else:
            raise MappingError(f"dest {dest!r}: {key!r} is not inside an object or a list")


def _op(current: Any, value: str, operation: str) -> str:
    if operation in ("", "overwrite"):
        return value
    base = "" if current is None else as_string(current)
    if operation == "append":
        return base + value
    if operation == "prepend":
        return value + base
    raise MappingError(f"parameter operation {operation!r} is not overwrite, append or prepend")


def apply_parameters(
    resource: Mapping[str, Any],
    parameters: Sequence[Mapping[str, Any]],
    data: Any,
    context: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``resource`` with every parameter applied, and ``{dest: value}`` for display."""
    out = copy.deepcopy(dict(resource))
    applied: dict[str, str] = {}
    for p in parameters:
        dest = str(p.get("dest") or "")
        if not dest:
            raise MappingError("a trigger parameter has no dest")
        value = resolve_source(p.get("src") or {}, data, context)
        _set(out, dest, value, str(p.get("operation") or ""))
        applied[dest] = value
    return out, applied
