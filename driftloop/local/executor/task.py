"""One DAG task or step: its ``when``, its arguments, its fan-out, its outputs — and where it runs.

The scheduling thread (the one walking a DAG or a steps template) decides *what* runs: it evaluates
``when``, renders arguments from the scope of finished tasks, expands loops and creates the nodes that
never run (Skipped, Error). Each instance that does run becomes a :class:`Unit`, run on a worker thread of
the template's pool (:func:`pool`): a unit is one template invocation, i.e. one host process per pod, so
threads are enough. Only the scheduling thread touches the template's scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import fanout
from driftloop.local.executor.expr import evaluate_when
from driftloop.local.executor.naming import item_label, item_scope
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.template import render, render_obj, unresolved

if TYPE_CHECKING:
    from driftloop.local.executor.engine import Run

__all__ = ["Launch", "Unit", "complete", "pool", "publish", "start", "template_name"]

DEFAULT_WIDTH = 32  # children of one template running at once when it sets no ``parallelism``


@dataclass(frozen=True)
class Unit:
    """One instance of a task / step, ready to run: the template and its rendered arguments."""

    tmpl_name: str
    node_name: str
    display: str
    params: dict[str, str]
    artifacts: dict[str, Mapping[str, Any]]


@dataclass
class Launch:
    """A started task / step: one slot per instance (a finished node, or the future of a unit)."""

    name: str
    child_name: str
    display: str
    tmpl_name: str
    fanned: bool
    group: NodeResult | None = None  # the TaskGroup node of a DAG fan-out
    slots: list[NodeResult | Future[NodeResult]] = field(default_factory=list)
    phase: str | None = None  # set when the launch finished without running anything (empty loop)

    def futures(self) -> list[Future[NodeResult]]:
        return [s for s in self.slots if isinstance(s, Future)]

    def done(self) -> bool:
        return all(f.done() for f in self.futures())


def pool(tmpl: Mapping[str, Any]) -> ThreadPoolExecutor:
    """Workers for the children of a dag / steps template: at most its ``parallelism`` at once."""
    limit = tmpl.get("parallelism")
    width = DEFAULT_WIDTH
    if limit is not None:
        try:
            width = int(str(limit))
        except ValueError:
            width = 0
        if width < 1:
            raise WorkflowError(
                f"template {tmpl['name']}.parallelism: {limit!r} is not a positive integer",
                "set parallelism to 1 or more",
            )
    return ThreadPoolExecutor(max_workers=width, thread_name_prefix=f"driftloop-{tmpl['name']}")


def template_name(task: Mapping[str, Any]) -> str:
    """The template a task / step refers to (``template`` or ``templateRef.template``)."""
    return str(task.get("template") or (task.get("templateRef") or {}).get("template"))


def start(
    run: Run,
    task: Mapping[str, Any],
    child_name: str,
    display: str,
    scope: Mapping[str, str],
    art_scope: Mapping[str, Mapping[str, Any]],
    parent: NodeResult,
    workers: ThreadPoolExecutor,
    dag: bool = False,
) -> Launch:
    """Expand ``task`` and submit each instance that runs to ``workers`` (nodes keep Argo's names)."""
    items = fanout.expand(task, scope)
    tmpl_name = template_name(task)
    launch = Launch(str(task["name"]), child_name, display, tmpl_name, items is not None)
    if items is None:
        launch.slots.append(
            _submit(run, task, tmpl_name, child_name, display, scope, art_scope, parent, workers)
        )
        return launch
    if not items:
        skipped = run.new_node(child_name, display, "Skipped", tmpl_name)
        parent.children.append(child_name)
        launch.phase = run.finish(skipped, "Skipped", "Skipped, empty params").phase
        return launch
    group = parent
    if dag:
        group = launch.group = run.new_node(child_name, display, "TaskGroup", tmpl_name)
        parent.children.append(child_name)
        run.emit(group)
    for i, item in enumerate(items):
        label = item_label(i, item)
        local = {**scope, **item_scope(item)}
        launch.slots.append(
            _submit(
                run,
                task,
                tmpl_name,
                f"{child_name}{label}",
                f"{display}{label}",
                local,
                art_scope,
                group,
                workers,
            )
        )
    return launch


def complete(
    run: Run, launch: Launch, prefix: str, scope: dict[str, str], art_scope: dict[str, Mapping[str, Any]]
) -> str:
    """After every instance ended: publish the outputs (aggregated for a loop); return the task's phase."""
    if launch.phase is not None:
        return launch.phase
    kids = [s.result() if isinstance(s, Future) else s for s in launch.slots]
    if not launch.fanned:
        publish(prefix, launch.name, kids[0], scope, art_scope)
        return kids[0].phase
    agg = fanout.aggregate(launch.child_name, launch.display, launch.tmpl_name, kids)
    publish(prefix, launch.name, agg, scope, art_scope)
    scope[f"{prefix}.{launch.name}#children"] = ",".join(k.phase for k in kids)
    if launch.group is not None:
        run.finish(launch.group, agg.phase)
    return agg.phase


def _submit(
    run: Run,
    task: Mapping[str, Any],
    tmpl_name: str,
    node_name: str,
    display: str,
    local: Mapping[str, str],
    art_scope: Mapping[str, Mapping[str, Any]],
    parent: NodeResult,
    workers: ThreadPoolExecutor,
) -> NodeResult | Future[NodeResult]:
    prepared = _prepare(run, task, tmpl_name, node_name, display, local, art_scope, parent)
    if isinstance(prepared, NodeResult):
        return prepared
    return workers.submit(_execute, run, prepared)


def _prepare(
    run: Run,
    task: Mapping[str, Any],
    tmpl_name: str,
    node_name: str,
    display: str,
    local: Mapping[str, str],
    art_scope: Mapping[str, Mapping[str, Any]],
    parent: NodeResult,
) -> NodeResult | Unit:
    """``when`` and arguments of one instance: a finished node when it does not run, else a Unit."""
    parent.children.append(node_name)
    when = task.get("when")
    if when:
        rendered = render(str(when), local)
        left = unresolved(rendered)
        try:
            if left:
                raise WorkflowError(f"when {when!r}: cannot resolve {left[0]!r}", "fix the variable name")
            run_it = evaluate_when(rendered)
        except WorkflowError as exc:
            return run.finish(run.new_node(node_name, display, "Skipped", tmpl_name), "Error", str(exc))
        if not run_it:
            skipped = run.new_node(node_name, display, "Skipped", tmpl_name)
            return run.finish(skipped, "Skipped", f"when '{rendered}' evaluated false")
    args = task.get("arguments") or {}
    params = {str(p["name"]): render(str(p.get("value", "")), local) for p in args.get("parameters") or []}
    artifacts: dict[str, Mapping[str, Any]] = {}
    for a in args.get("artifacts") or []:
        a = render_obj(a, local)
        if "from" in a:
            ref = str(a["from"]).strip("{} ")
            if ref not in art_scope:
                return run.finish(
                    run.new_node(node_name, display, "Pod", tmpl_name),
                    "Error",
                    f"artifact {a['name']!r}: cannot resolve {a['from']!r}",
                )
            artifacts[str(a["name"])] = art_scope[ref]
        else:
            artifacts[str(a["name"])] = a
    return Unit(tmpl_name, node_name, display, params, artifacts)


def _execute(run: Run, unit: Unit) -> NodeResult:
    try:
        return run.run_template(unit.tmpl_name, unit.node_name, unit.display, unit.params, unit.artifacts)
    except WorkflowError as exc:
        return run.finish(
            run.new_node(unit.node_name, unit.display, "Pod", unit.tmpl_name), "Error", str(exc)
        )


def publish(
    prefix: str,
    name: str,
    node: NodeResult,
    scope: dict[str, str],
    art_scope: dict[str, Mapping[str, Any]],
) -> None:
    """Make a finished task's status and outputs visible as ``<prefix>.<name>.*``."""
    base = f"{prefix}.{name}"
    scope[f"{base}.status"] = node.phase
    scope[f"{base}.id"] = node.name
    if node.exit_code is not None:
        scope[f"{base}.exitCode"] = str(node.exit_code)
    if node.result is not None:
        scope[f"{base}.outputs.result"] = node.result
    for k, v in node.parameters.items():
        scope[f"{base}.outputs.parameters.{k}"] = v
    for a in node.artifacts:
        art_scope[f"{base}.outputs.artifacts.{a['name']}"] = a
