"""A ``dag`` template: every task whose dependencies are met runs at once (as on Argo), then its phase.

The scheduling thread walks the tasks in topological order (ties broken by declaration order) each time
a task finishes, starts the ones whose dependencies have all finished and whose ``depends`` holds, and
records the others as Omitted. Tasks run on the template's pool (:func:`.task.pool`), so
``parallelism`` on the template caps how many of its children (fan-out instances count one each) run
at once. The DAG node lists its tasks in topological order, whatever order they finished in.

``failFast`` (default true, https://argo-workflows.readthedocs.io/en/latest/walk-through/dag/): once a
task fails, no new task is started; running ones finish, the rest get no node, and the DAG fails. A
failure the DAG was written to handle does not count: the task has ``continueOn`` for it, or another
task names it with a result a failure satisfies (``depends: "a.Failed"``, ``.Errored``, ``.Completed``,
``.AnySucceeded``, ``.AllFailed``) — so Argo's error-handler patterns (dag-continue-on-fail) behave
as there. This exception is our reading: Argo's docs only say "as soon as one of the DAG nodes is failed".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, wait
from typing import TYPE_CHECKING, Any

from driftloop.local.executor import graph
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.task import Launch, complete, pool, start
from driftloop.local.executor.template import render

if TYPE_CHECKING:
    from driftloop.local.executor.engine import Run

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
    deps = {n: graph.dependencies_of(by_name[n]) for n in order}
    phases: dict[str, str] = {}
    art_scope: dict[str, Mapping[str, Any]] = {}
    continue_on = {n: t.get("continueOn") or {} for n, t in by_name.items()}
    running: dict[str, Launch] = {}
    fail_fast = str(tmpl["dag"].get("failFast", True)).lower() != "false"
    handled = {d for t in tasks for d in graph.expected_failures(t)}
    tripped: list[str] = []  # the failures that stop scheduling (failFast)
    workers = pool(tmpl)
    try:
        while True:
            if not _expired(run) and not tripped:
                for name in order:  # one pass suffices: dependents come after what they depend on
                    if name in phases or name in running or any(d not in phases for d in deps[name]):
                        continue
                    task, child_name = by_name[name], f"{node.name}.{name}"
                    if not graph.depends_satisfied(task, phases, continue_on):
                        omitted = run.new_node(child_name, name, "Skipped", task.get("template"))
                        node.children.append(child_name)
                        phases[name] = run.finish(
                            omitted, "Omitted", "omitted: depends condition not met"
                        ).phase
                        continue
                    launch = start(run, task, child_name, name, scope, art_scope, node, workers, dag=True)
                    if not launch.done():
                        running[name] = launch
                        continue
                    _record(run, launch, phases, scope, art_scope)
                    if fail_fast and _unhandled(name, phases, continue_on, handled):
                        tripped.append(name)
                        break
            if not running:
                break
            wait([f for launch in running.values() for f in launch.futures()], return_when=FIRST_COMPLETED)
            for name in [n for n in order if n in running and running[n].done()]:
                _record(run, running.pop(name), phases, scope, art_scope)
                if fail_fast and _unhandled(name, phases, continue_on, handled):
                    tripped.append(name)
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
    index = {f"{node.name}.{n}": i for i, n in enumerate(order)}
    node.children.sort(key=lambda c: index.get(c, len(index)))
    _assess(run, tmpl, node, scope, art_scope, order, deps, phases, continue_on, sorted(wanted))
    if tripped and node.phase == "Succeeded":  # cannot happen via inheritance, but never hide a failure
        node.phase, node.message = phases[tripped[0]], f"child '{node.name}.{tripped[0]}' failed"


def _unhandled(
    name: str, phases: Mapping[str, str], continue_on: Mapping[str, Mapping[str, Any]], handled: set[str]
) -> bool:
    """Whether the task ended in a failure nothing in the DAG expects (what failFast reacts to)."""
    phase, co = phases[name], continue_on[name]
    if phase not in _BAD or name in handled:
        return False
    return not ((phase == "Failed" and co.get("failed")) or (phase == "Error" and co.get("error")))


def _record(
    run: Run,
    launch: Launch,
    phases: dict[str, str],
    scope: dict[str, str],
    art_scope: dict[str, Mapping[str, Any]],
) -> None:
    phases[launch.name] = complete(run, launch, "tasks", scope, art_scope)
    if launch.fanned and f"tasks.{launch.name}#children" in scope:  # for .AnySucceeded / .AllFailed
        phases[f"{launch.name}#children"] = scope[f"tasks.{launch.name}#children"]


def _expired(run: Run) -> bool:
    return run.deadline is not None and time.monotonic() >= run.deadline


def _assess(
    run: Run,
    tmpl: Mapping[str, Any],
    node: NodeResult,
    scope: dict[str, str],
    art_scope: Mapping[str, Mapping[str, Any]],
    order: list[str],
    deps: Mapping[str, list[str]],
    phases: Mapping[str, str],
    continue_on: Mapping[str, Mapping[str, Any]],
    targets: list[str],
) -> None:
    """The DAG's phase from its targets (default: the leaves); an omitted task inherits its parents'."""
    leaves = targets or [n for n in order if not any(n in deps[o] for o in order)]
    effective: dict[str, str] = {}
    for name in order:
        phase = phases.get(name, "Omitted")  # a task that never started counts as omitted
        co = continue_on[name]
        if phase == "Omitted":
            parents = [effective.get(d, "Succeeded") for d in deps[name]]
            phase = "Error" if "Error" in parents else "Failed" if "Failed" in parents else "Succeeded"
        elif (phase == "Failed" and co.get("failed")) or (phase == "Error" and co.get("error")):
            phase = "Succeeded"
        effective[name] = phase
    bad = [n for n in leaves if effective.get(n) in _BAD]
    if _expired(run):
        node.phase, node.message = "Failed", "Max duration limit exceeded"
    elif bad:
        node.phase = "Error" if any(effective[n] == "Error" for n in bad) else "Failed"
        node.message = f"child '{node.name}.{bad[0]}' failed"
    else:
        node.phase = "Succeeded"
        run.template_outputs(tmpl, node, scope, art_scope)
