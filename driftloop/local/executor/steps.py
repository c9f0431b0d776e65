"""A ``steps`` template: its groups in order, the steps of one group (and their fan-out) at once.

As on Argo, the steps of a group see the outputs of earlier groups only; a group ends when all its
steps have, and fails when one of them failed (unless ``continueOn``), which ends the template.
``parallelism`` on the template caps how many of its steps (fan-out instances count one each) run at
once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import wait
from typing import TYPE_CHECKING, Any

from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.task import complete, pool, start

if TYPE_CHECKING:
    from driftloop.local.executor.engine import Run

__all__ = ["run_steps"]


def run_steps(run: Run, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
    """Run the step groups of ``tmpl`` under ``node``; set the node's phase (and outputs)."""
    art_scope: dict[str, Mapping[str, Any]] = {}
    node.phase = "Succeeded"
    workers = pool(tmpl)
    try:
        for i, group in enumerate(tmpl["steps"] or []):
            if run.deadline is not None and time.monotonic() >= run.deadline:
                node.phase, node.message = "Failed", "Max duration limit exceeded"
                return
            gnode = run.new_node(f"{node.name}[{i}]", f"[{i}]", "StepGroup", None)
            node.children.append(gnode.name)
            run.emit(gnode)
            steps = list(group or [])
            launches = [
                start(run, s, f"{gnode.name}.{s['name']}", str(s["name"]), scope, art_scope, gnode, workers)
                for s in steps
            ]
            wait([f for launch in launches for f in launch.futures()])
            failed = []
            for step, launch in zip(steps, launches, strict=True):
                phase = complete(run, launch, "steps", scope, art_scope)
                co = step.get("continueOn") or {}
                if (phase == "Failed" and not co.get("failed")) or (phase == "Error" and not co.get("error")):
                    failed.append((launch.name, phase))
            if failed:
                phase = "Error" if any(p == "Error" for _, p in failed) else "Failed"
                run.finish(gnode, phase, f"child '{gnode.name}.{failed[0][0]}' failed")
                node.phase, node.message = phase, gnode.message
                return
            run.finish(gnode, "Succeeded")
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
    run.template_outputs(tmpl, node, scope, art_scope)
