"""Fan-out: ``withItems`` / ``withParam`` / ``withSequence`` expansion and the aggregated outputs.

A task or step with a loop runs once per item (children named ``<name>(<i>:<item>)``, see
:mod:`.naming`); its outputs, as seen by later tasks, are JSON in item order, as Argo aggregates them:
``outputs.result`` a list of results, ``outputs.parameters`` a list of maps (one per child), and each
``outputs.parameters.<name>`` a list of that parameter's values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.template import render, render_obj

__all__ = ["Aggregate", "aggregate", "expand", "go_json", "group_phase"]


def expand(task: Mapping[str, Any], scope: Mapping[str, str]) -> list[Any] | None:
    """The items a task loops over, or ``None`` when it has no loop."""
    if "withItems" in task:
        return list(render_obj(task["withItems"], scope) or [])
    if "withParam" in task:
        text = render(str(task["withParam"]), scope)
        try:
            items = json.loads(text)
        except ValueError:
            raise WorkflowError(
                f"withParam of {task['name']!r} is not a JSON list: {text[:80]!r}",
                "make the parameter a JSON list",
            ) from None
        if not isinstance(items, list):
            raise WorkflowError(f"withParam of {task['name']!r} is not a JSON list", "make it a JSON list")
        return items
    if "withSequence" in task:
        seq = render_obj(task["withSequence"], scope)
        start = int(seq.get("start", 0))
        fmt = seq.get("format")
        if "end" in seq:
            end = int(seq["end"])
            step = 1 if end >= start else -1
            numbers = list(range(start, end + step, step))
        else:  # count items from start; count 0 gives none (Argo's expandSequence)
            numbers = list(range(start, start + max(0, int(seq.get("count", 0)))))
        return [fmt % i if fmt else str(i) for i in numbers]
    return None


def group_phase(phases: Sequence[str]) -> str:
    """The phase of a fan-out from its children's, as Argo's TaskGroup: the last Failed / Error child's
    phase, else Succeeded (also when every child was skipped)."""
    phase = "Succeeded"
    for p in phases:
        if p in ("Failed", "Error"):
            phase = p
    return phase


@dataclass(frozen=True)
class Aggregate:
    """The outputs of a fan-out as later tasks see them (``tasks.<name>.outputs.*``)."""

    phase: str
    result: str  # JSON list of the children's results
    parameter_maps: str  # JSON list of maps, one per child: parameter name -> value
    parameters: dict[str, str]  # parameter name -> JSON list of its values


def aggregate(kids: Sequence[NodeResult]) -> Aggregate:
    """Argo's ``processAggregateNodeOutputs`` (workflow/controller/operator.go): only Succeeded children
    count, in item order; results are parsed as JSON where they are JSON (text stays a string)."""
    ok = [k for k in kids if k.phase == "Succeeded"]
    values: dict[str, list[str]] = {}
    for k in ok:
        for name, value in k.parameters.items():
            values.setdefault(name, []).append(value)
    return Aggregate(
        phase=group_phase([k.phase for k in kids]),
        result=go_json([_jsonish(k.result) for k in ok if k.result is not None]),
        parameter_maps=go_json([dict(sorted(k.parameters.items())) for k in ok if k.parameters]),
        parameters={name: _value_list(vs) for name, vs in values.items()},
    )


def _value_list(values: list[str]) -> str:
    """Argo's ``aggregatedJSONValueList``: a list of the parsed values when every one is a JSON list or
    map, else a list of the strings."""
    parsed = []
    for v in values:
        try:
            item = json.loads(v)
        except ValueError:
            return go_json(values)
        if not isinstance(item, list | dict):
            return go_json(values)
        parsed.append(item)
    return go_json(parsed, sort_keys=True)


def go_json(value: Any, sort_keys: bool = False) -> str:
    """JSON as Go's ``json.Marshal`` writes it: compact, UTF-8, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _jsonish(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return text
