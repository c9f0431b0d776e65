"""A ``steps`` template: its groups in order; a group fails when one of its steps fails."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from driftloop.executor.result import NodeResult
from driftloop.executor.task import run_task

if TYPE_CHECKING:
    from driftloop.executor.engine import Run

__all__ = ["run_steps"]


def run_steps(run: Run, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
    """Run the step groups of ``tmpl`` under ``node``; set the node's phase (and outputs)."""
    art_scope: dict[str, Mapping[str, Any]] = {}
    node.phase = "Succeeded"
    for i, group in enumerate(tmpl["steps"] or []):
        if run.deadline is not None and time.monotonic() >= run.deadline:
            node.phase, node.message = "Failed", "Max duration limit exceeded"
            return
        gnode = run.new_node(f"{node.name}[{i}]", f"[{i}]", "StepGroup", None)
        node.children.append(gnode.name)
        run.emit(gnode)
        failed = []
        for step in group or []:
            sname = str(step["name"])
            phase = run_task(run, step, f"{gnode.name}.{sname}", sname, scope, art_scope, "steps", gnode)
            co = step.get("continueOn") or {}
            if (phase == "Failed" and not co.get("failed")) or (phase == "Error" and not co.get("error")):
                failed.append((sname, phase))
        if failed:
            phase = "Error" if any(p == "Error" for _, p in failed) else "Failed"
            run.finish(gnode, phase, f"child '{gnode.name}.{failed[0][0]}' failed")
            node.phase, node.message = phase, gnode.message
            return
        run.finish(gnode, "Succeeded")
    run.template_outputs(tmpl, node, scope, art_scope)
