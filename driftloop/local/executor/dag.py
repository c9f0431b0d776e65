"""A ``dag`` template: every task whose dependencies are met runs at once (as on Argo), then its phase.

The scheduling thread walks the tasks in topological order (ties broken by declaration order) each time
a task finishes, starts the ones whose dependencies have all finished and whose ``depends`` holds, and
records the others as Omitted. Tasks run on the template's pool (:class:`.task.Pool`), so
``parallelism`` on the template caps how many of its children (fan-out instances count one each) run
at once. The DAG node lists its tasks in topological order, whatever order they finished in.

A failure does not stop the other branches: Argo's controller creates every task whose ``depends``
holds, also after a failure, as long as the DAG is running (``executeDAG`` runs ``executeDAGTask`` for
every target before ``assessDAGPhase``, which keeps the DAG Running while any task is; issue
argoproj/argo-workflows#5223, closed "wontfix"). So running branches complete, tasks whose ``depends``
can no longer hold get Omitted nodes, and the outcome never depends on which task finished first.
``dag.failFast`` only changes when Argo *reports* the failure, not what runs; template-level
``failFast: true`` does stop new children (:class:`.task.Pool`).

An error while scheduling a task (its ``when``, loop or arguments) makes that task an Error node (type
Skipped, as Argo's ``executeDAGTask``); the others go on by the rules above.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, wait
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import graph
from driftloop.local.executor.naming import template_name
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.task import (
    FAIL_FAST_MESSAGE,
    Frame,
    Launch,
    Pool,
    complete,
    error_node,
    launch,
    publish,
    resolve,
)
from driftloop.local.executor.template import render

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext

__all__ = ["run_dag"]

_BAD = ("Failed", "Error")


class _Dag:
    """The scheduling state of one run of a dag template."""

    def __init__(
        self, run: RunContext, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]
    ) -> None:
        self.run, self.tmpl, self.node = run, tmpl, node
        tasks = list(tmpl["dag"].get("tasks") or [])
        self.by_name = {str(t["name"]): t for t in tasks}
        order = graph.topological_order(tasks)
        self.targets = sorted(n for n in order if not any(n in graph.dependencies_of(t) for t in tasks))
        target = tmpl["dag"].get("target")
        if target:
            self.targets = render(str(target), scope).replace(",", " ").split()
            unknown = [t for t in self.targets if t not in self.by_name]
            if unknown:
                raise WorkflowError(f"dag.target names no task {unknown[0]!r}", "fix the target")
            wanted = _with_ancestors(self.targets, self.by_name)
            order = [n for n in order if n in wanted]
        self.order = order
        self.deps = {n: graph.dependencies_of(self.by_name[n]) for n in order}
        self.ancestors = {n: _with_ancestors([n], self.by_name) - {n} for n in order}
        self.frame = Frame("tasks", scope)
        self.phases: dict[str, str] = {}  # finished tasks (a task's fan-out children under name#children)
        self.settled: set[str] = set()  # tasks that will not run any more (with or without a node)
        self.continue_on = {n: t.get("continueOn") or {} for n, t in self.by_name.items()}
        self.running: dict[str, Launch] = {}
        self.pool = Pool(tmpl)

    def run_all(self) -> None:
        try:
            while True:
                self.run.check_cancel()
                if not _expired(self.run) and not self.pool.tripped:
                    for name in self.order:  # one pass suffices: dependents come after their dependencies
                        if self._ready(name):
                            self._schedule(name)
                if not self.running:
                    break
                futures = [f for out in self.running.values() for f in out.futures()]
                wait(futures, return_when=FIRST_COMPLETED)
                for name in [n for n in self.order if n in self.running and self.running[n].done()]:
                    self._record(self.running.pop(name))
        finally:
            self.pool.shutdown()

    def _ready(self, name: str) -> bool:
        waiting = name in self.settled or name in self.running
        return not waiting and all(d in self.settled for d in self.deps[name])

    def _schedule(self, name: str) -> None:
        task, child_name = self.by_name[name], f"{self.node.name}.{name}"
        tmpl = template_name(task)
        try:
            runs = graph.depends_satisfied(task, self.phases, self.continue_on)
            if runs:
                out = launch(
                    self.run,
                    resolve(self.run, task, child_name, name, self.frame.only(self.ancestors[name])),
                    self.node,
                    self.pool,
                    dag=True,
                )
        except WorkflowError as exc:
            self._settle(name, error_node(self.run, self.node, child_name, name, tmpl, str(exc)))
            return
        if not runs:
            omitted = self.run.new_node(child_name, name, "Skipped", tmpl)
            self.node.children.append(child_name)
            self._settle(name, self.run.finish(omitted, "Omitted", "omitted: depends condition not met"))
            return
        if out.done():
            self._record(out)
        else:
            self.running[name] = out

    def _settle(self, name: str, node: NodeResult) -> None:
        publish(self.run, name, node, self.frame)
        self.phases[name] = node.phase
        self.settled.add(name)

    def _record(self, out: Launch) -> None:
        phase, kids = complete(self.run, out, self.node, self.frame)
        self.settled.add(out.name)
        if phase:  # "": never started (failFast), it has no node
            self.phases[out.name] = phase
        if out.plan.fanned:  # for .AnySucceeded / .AllFailed
            self.phases[f"{out.name}#children"] = ",".join(kids)

    def assess(self) -> None:
        """The DAG's phase, as Argo's assessDAGPhase: each target's branch phase (its own when it ran, else
        inherited from the tasks it depends on, Failed / Error preferred); a target's ``continueOn``
        excuses its own failure."""
        node = self.node
        index = {f"{node.name}.{n}": i for i, n in enumerate(self.order)}
        node.children.sort(key=lambda c: index.get(c, len(index)))
        branch: dict[str, set[str]] = {}
        for name in self.order:
            phase = self.phases.get(name, "")
            if phase in ("Succeeded", *_BAD):
                branch[name] = {phase}
            else:  # Skipped, Omitted, never started: inherits
                inherited = set().union(*(branch[d] for d in self.deps[name])) if self.deps[name] else set()
                branch[name] = inherited or {"Succeeded"}
        bad = []
        for name in self.targets:
            worst = "Error" if "Error" in branch[name] else "Failed" if "Failed" in branch[name] else ""
            co = self.continue_on[name]
            if worst and not (
                (worst == "Failed" and co.get("failed")) or (worst == "Error" and co.get("error"))
            ):
                bad.append((name, worst))
        if _expired(self.run):
            node.phase, node.message = "Failed", "Max duration limit exceeded"
        elif self.pool.tripped:
            node.phase, node.message = "Failed", FAIL_FAST_MESSAGE
        elif bad:
            node.phase = bad[0][1]
            node.message = f"child '{node.name}.{bad[0][0]}' failed"
        else:
            node.phase = "Succeeded"
            self.run.template_outputs(
                self.tmpl, node, self.frame.scope, self.frame.artifacts, self.frame.absent
            )


def run_dag(
    run: RunContext,
    tmpl: Mapping[str, Any],
    node: NodeResult,
    scope: dict[str, str],
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Run the tasks of ``tmpl`` under ``node``; set the node's phase (and outputs when it succeeds).
    ``artifacts``: the template's input artifacts, by ``inputs.artifacts.NAME``."""
    dag = _Dag(run, tmpl, node, scope)
    dag.frame.artifacts.update(artifacts or {})
    dag.run_all()
    dag.assess()


def _with_ancestors(names: list[str], by_name: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen = set(names)
    stack = list(names)
    while stack:
        for d in graph.dependencies_of(by_name[stack.pop()]):
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def _expired(run: RunContext) -> bool:
    return run.deadline is not None and time.monotonic() >= run.deadline
