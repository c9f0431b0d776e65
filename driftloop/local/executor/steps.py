"""A ``steps`` template: its groups in order, the steps of one group (and their fan-out) at once.

As on Argo (``workflow/controller/steps.go``), the steps of a group see the outputs of earlier groups
only; a group ends when all its steps have, and fails when one of them failed (unless ``continueOn``),
which fails the template. ``parallelism`` on the template caps how many of its steps (fan-out instances
count one each) run at once; template-level ``failFast: true`` starts no further step once one failed,
and the template then fails with Argo's message (:class:`.task.Pool`).

A group is resolved before any of its steps starts (Argo's ``resolveReferences`` / ``expandStepGroup``):
an error there (a bad ``withParam``, an argument or ``when`` that cannot be evaluated) gives the step an
Error node and the group an Error, and nothing of that group runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import wait
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.naming import template_name
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.task import (
    FAIL_FAST_MESSAGE,
    Frame,
    Plan,
    Pool,
    complete,
    error_node,
    launch,
    resolve,
)

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext

__all__ = ["run_steps"]


def run_steps(
    run: RunContext,
    tmpl: Mapping[str, Any],
    node: NodeResult,
    scope: dict[str, str],
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Run the step groups of ``tmpl`` under ``node``; set the node's phase (and outputs).
    ``artifacts``: the template's input artifacts, by ``inputs.artifacts.NAME``."""
    frame = Frame("steps", scope, dict(artifacts or {}))
    node.phase = "Succeeded"
    pool = Pool(tmpl)
    gnode: NodeResult | None = None
    try:
        for i, group in enumerate(tmpl["steps"] or []):
            run.check_cancel()
            if run.deadline is not None and time.monotonic() >= run.deadline:
                node.phase, node.message = "Failed", "Max duration limit exceeded"
                return
            if pool.tripped:
                break
            gnode = run.new_node(f"{node.name}[{i}]", f"[{i}]", "StepGroup", None)
            node.children.append(gnode.name)
            run.emit(gnode)
            if not _run_group(run, list(group or []), node, gnode, frame, pool):
                break
    finally:
        pool.shutdown()
    if pool.tripped and gnode is not None:  # Argo marks the last step group and the template Failed
        run.finish(gnode, "Failed", FAIL_FAST_MESSAGE)
        node.phase, node.message = "Failed", FAIL_FAST_MESSAGE
    if node.phase == "Succeeded":
        run.template_outputs(tmpl, node, frame.scope, frame.artifacts, frame.absent)


def _run_group(
    run: RunContext,
    steps: list[Mapping[str, Any]],
    node: NodeResult,
    gnode: NodeResult,
    frame: Frame,
    pool: Pool,
) -> bool:
    """Run one step group; False when the template stops here (the group failed or errored)."""
    planned: list[Plan | WorkflowError] = []
    for step in steps:
        try:
            planned.append(resolve(run, step, f"{gnode.name}.{step['name']}", str(step["name"]), frame))
        except WorkflowError as exc:
            planned.append(exc)
    plans = [p for p in planned if isinstance(p, Plan)]
    if len(plans) < len(planned) or any(i.phase == "Error" for p in plans for i in p.instances):
        first = ""
        for step, p in zip(steps, planned, strict=True):
            if isinstance(p, WorkflowError):
                first = first or str(p)
                error_node(
                    run, gnode, f"{gnode.name}.{step['name']}", str(step["name"]), template_name(step), str(p)
                )
                continue
            for inst in p.instances:  # a `when` that could not be evaluated
                if inst.phase == "Error":
                    first = first or inst.message
                    error_node(run, gnode, inst.node_name, inst.display, p.tmpl_name, inst.message)
        run.finish(gnode, "Error", first)
        # Argo marks the steps node Failed here; Error is kept so a scheduling error reads as one.
        node.phase, node.message = "Error", first
        return False
    launches = [launch(run, p, gnode, pool) for p in plans]
    wait([f for out in launches for f in out.futures()])
    failed = []
    for step, out in zip(steps, launches, strict=True):
        phase, _ = complete(run, out, gnode, frame)
        co = step.get("continueOn") or {}
        if (phase == "Failed" and not co.get("failed")) or (phase == "Error" and not co.get("error")):
            failed.append(out.plan.child_name)
    if failed:  # as Argo: the group and the template fail, whether the child failed or errored
        run.finish(gnode, "Failed", f"child '{failed[0]}' failed")
        node.phase, node.message = "Failed", gnode.message
        return False
    run.finish(gnode, "Succeeded")
    return True
