"""Fan-out: ``withItems`` / ``withParam`` / ``withSequence`` expansion and the aggregated outputs.

A task or step with a loop runs once per item (children named ``<name>(<i>:<item>)``, see
:mod:`.naming`); its outputs, as seen by later tasks, are JSON lists in item order
(``outputs.result`` and each ``outputs.parameters.<name>``), as Argo aggregates them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.template import render, render_obj

__all__ = ["aggregate", "expand", "group_phase"]


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
    """The phase of a fan-out from its children's: Error > Failed > all Skipped > Succeeded."""
    if "Error" in phases:
        return "Error"
    if "Failed" in phases:
        return "Failed"
    return "Skipped" if all(p == "Skipped" for p in phases) else "Succeeded"


def aggregate(name: str, display: str, tmpl_name: str, kids: Sequence[NodeResult]) -> NodeResult:
    """A (not recorded) node carrying the fan-out's aggregated outputs, for ``tasks.<name>.*``."""
    agg = NodeResult(name, display, "TaskGroup", tmpl_name, phase=group_phase([k.phase for k in kids]))
    agg.result = json.dumps([_jsonish(k.result) for k in kids if k.phase == "Succeeded"])
    for pname in dict.fromkeys(p for k in kids for p in k.parameters):
        agg.parameters[pname] = json.dumps([k.parameters.get(pname) for k in kids if pname in k.parameters])
    return agg


def _jsonish(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return text
