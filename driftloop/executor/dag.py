"""A ``dag`` template: tasks in topological order (ties broken by declaration order), then its phase."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from driftloop.executor import graph
from driftloop.executor.result import NodeResult
from driftloop.executor.task import run_task
from driftloop.executor.template import render

if TYPE_CHECKING:
    from driftloop.executor.engine import Run

__all__ = ["run_dag"]

_BAD = ("Failed", "Error")


def run_dag(run: Run, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
    """Run the tasks of ``tmpl`` under ``node``; set the node's phase (and outputs when it succeeds)."""
    tasks = list(tmpl["dag"].get("tasks") or [])
    by_name = {str(t["name"]): t for t in tasks}
    order = graph.topological_order(tasks)
    target = tmpl["dag"].get("target")
    wanted: set[str] = set()
    if target:
        wanted = set(render(str(target), scope).replace(",", " ").split())
        stack = list(wanted)
        while stack:
            for d in graph.dependencies_of(by_name[stack.pop()]):
                if d not in wanted:
                    wanted.add(d)
                    stack.append(d)
        order = [n for n in order if n in wanted]
    phases: dict[str, str] = {}
    art_scope: dict[str, Mapping[str, Any]] = {}
    continue_on = {n: t.get("continueOn") or {} for n, t in by_name.items()}
    for name in order:
        task = by_name[name]
        child_name = f"{node.name}.{name}"
        if run.deadline is not None and time.monotonic() >= run.deadline:
            phases[name] = "Omitted"
            continue
        if not graph.depends_satisfied(task, phases, continue_on):
            omitted = run.new_node(child_name, name, "Skipped", task.get("template"))
            node.children.append(child_name)
            phases[name] = run.finish(omitted, "Omitted", "omitted: depends condition not met").phase
            continue
        phases[name] = run_task(run, task, child_name, name, scope, art_scope, "tasks", node, dag=True)
    leaves = (
        list(wanted)
        if target
        else [n for n in order if not any(n in graph.dependencies_of(by_name[o]) for o in order)]
    )
    effective: dict[str, str] = {}
    for name in order:
        phase = phases.get(name, "Omitted")
        co = continue_on[name]
        if phase == "Omitted":
            parents = [effective.get(d, "Succeeded") for d in graph.dependencies_of(by_name[name])]
            phase = "Error" if "Error" in parents else "Failed" if "Failed" in parents else "Succeeded"
        elif (phase == "Failed" and co.get("failed")) or (phase == "Error" and co.get("error")):
            phase = "Succeeded"
        effective[name] = phase
    bad = [n for n in leaves if effective.get(n) in _BAD]
    if run.deadline is not None and time.monotonic() >= run.deadline:
        node.phase, node.message = "Failed", "Max duration limit exceeded"
    elif bad:
        node.phase = "Error" if any(effective[n] == "Error" for n in bad) else "Failed"
        node.message = f"child '{node.name}.{bad[0]}' failed"
    else:
        node.phase = "Succeeded"
        run.template_outputs(tmpl, node, scope, art_scope)
