"""One DAG task or step: ``when``, arguments, fan-out, outputs — and where it runs.

The scheduling thread (the one walking a dag or steps template) first *resolves* a task (:func:`resolve`): its
``when``, its loop and its arguments rendered from the :class:`Frame` of finished siblings. Planning
creates no node, so a :class:`~driftloop.errors.WorkflowError` (a ``withParam`` that is not JSON, an
argument that cannot be resolved) leaves nothing half-started: the caller records it as that task's
Error node, as Argo's ``executeDAGTask`` does (``workflow/controller/dag.go``). :func:`launch` then creates
the nodes and submits each instance that runs, a :class:`Unit`, to the template's :class:`Pool`; a unit
is one template invocation (one host process per pod), so threads are enough. Only the scheduling
thread touches the frame and the parents' ``children``.

Outputs of a Skipped or Omitted task follow Argo (``addSkippedNodeOutputsToScope`` in
``workflow/controller/scope.go``): a declared ``valueFrom.default`` is the value; without one the output is
*absent* — an argument that is only a reference to it is dropped so the consumer's input default applies
(:data:`ABSENT`), an expression tag sees ``nil``, anything else is an error naming the reference.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from driftloop.errors import WorkflowError
from driftloop.local.executor import fanout
from driftloop.local.executor.artifacts import bind_argument
from driftloop.local.executor.expr import evaluate, evaluate_when
from driftloop.local.executor.hooks import Hook, HookRunner, exit_hook, fires, named_hooks, run_hook
from driftloop.local.executor.naming import item_label, item_scope, template_name
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.template import render, render_obj, unresolved

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext

__all__ = [
    "ABSENT",
    "FAIL_FAST_MESSAGE",
    "Frame",
    "Launch",
    "Plan",
    "Pool",
    "Unit",
    "complete",
    "error_node",
    "launch",
    "publish",
    "resolve",
]

#: An argument that only referenced an absent output: the consumer's input default applies.
ABSENT = "\x00driftloop:absent-output\x00"
#: Argo's message for a template whose ``failFast`` stopped it (``checkParallelism``, operator.go).
FAIL_FAST_MESSAGE = "template has failed or errored children and failFast enabled"
_COUNTED = ("Pod", "Steps", "DAG")  # Argo's getUnsuccessfulChildren counts these node types
_PURE_REF = re.compile(r"^\{\{([^{}=][^{}]*)\}\}$")


@dataclass
class Frame:
    """The variables of finished tasks / steps that the next ones see (``tasks.*`` / ``steps.*``)."""

    prefix: str  # "tasks" | "steps"
    scope: dict[str, str]
    artifacts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    #: keys of outputs that a Skipped / Omitted sibling never produced and that have no default
    absent: set[str] = field(default_factory=set)

    def only(self, names: Collection[str]) -> Frame:
        """What a DAG task sees: the variables of its ancestors only (Argo's buildLocalScopeFromTask),
        so a reference to a task it does not depend on never resolves by luck of timing."""
        head = f"{self.prefix}."

        def keep(key: str) -> bool:
            return not key.startswith(head) or key[len(head) :].split(".", 1)[0] in names

        return Frame(
            self.prefix,
            {k: v for k, v in self.scope.items() if keep(k)},
            {k: v for k, v in self.artifacts.items() if keep(k)},
            {k for k in self.absent if keep(k)},
        )

    def expr_scope(self, local: Mapping[str, str]) -> Mapping[str, str]:
        """``local`` with every absent output as ``None``, for expression tags (``?? 'fallback'``)."""
        if not self.absent:
            return local
        return cast("Mapping[str, str]", {**local, **dict.fromkeys(self.absent)})


class Pool:
    """The workers of one dag / steps template, its ``parallelism`` and its template-level ``failFast``.

    Without ``parallelism`` every child runs at once, as on Argo (no hidden cap). With ``failFast: true``
    on the template, the first Failed / Errored child (a pod attempt, a nested dag or steps node) stops
    any child that has not started yet; running ones finish (Argo's ``checkParallelism``).
    """

    def __init__(self, tmpl: Mapping[str, Any]) -> None:
        limit = tmpl.get("parallelism")
        width = sys.maxsize  # threads are created on demand: one per child running at once
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
        self.fail_fast = str(tmpl.get("failFast", False)).lower() == "true"
        self._executor = ThreadPoolExecutor(max_workers=width, thread_name_prefix=f"driftloop-{tmpl['name']}")
        self._tripped = threading.Event()

    @property
    def tripped(self) -> bool:
        return self._tripped.is_set()

    def report(self, node: NodeResult) -> None:
        """A child node finished: a failure trips ``failFast``."""
        if self.fail_fast and node.type in _COUNTED and node.phase in ("Failed", "Error"):
            self._tripped.set()

    def submit(self, run: RunContext, unit: Unit) -> Future[NodeResult | None]:
        return self._executor.submit(self._execute, run, unit)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _execute(self, run: RunContext, unit: Unit) -> NodeResult | None:
        if self.tripped:
            return None  # failFast: this child never starts and gets no node
        hooks = unit.hooks
        runner = HookRunner(run, list(hooks.named), unit.node_name, unit.display) if hooks else None
        if hooks and runner:
            runner.check({**hooks.scope, hooks.status_key: "Running"}, hooks.artifacts, background=True)
        try:
            node = run.run_template(
                unit.tmpl_name, unit.node_name, unit.display, unit.params, unit.artifacts, guard=self
            )
        except WorkflowError as exc:  # raised before any node of it existed (e.g. an unknown template)
            node = run.finish(
                run.new_node(unit.node_name, unit.display, "Skipped", unit.tmpl_name), "Error", str(exc)
            )
        self.report(node)
        if hooks and runner:
            _after_node(run, unit, hooks, runner, node)
        return node


def _after_node(run: RunContext, unit: Unit, hooks: TaskHooks, runner: HookRunner, node: NodeResult) -> None:
    """A task's node ended: its named hooks whose expression now holds, then its exit hook (Argo runs it
    for a completed node: Succeeded, Failed or Error). Their nodes become the node's children."""
    scope = {**hooks.scope, hooks.status_key: node.phase}
    for k, v in node.parameters.items():
        scope[f"{hooks.ref}.outputs.parameters.{k}"] = v
    arts = {**hooks.artifacts, **{f"{hooks.ref}.outputs.artifacts.{a['name']}": a for a in node.artifacts}}
    runner.check(scope, arts, background=False)
    extra = runner.join()
    exit_ = hooks.exit
    if exit_ is not None and node.phase in ("Succeeded", "Failed", "Error"):
        try:
            go = not exit_.expression or fires(exit_, scope)
        except WorkflowError as exc:
            name, display = f"{unit.node_name}.onExit", f"{unit.display}.onExit"
            extra.append(
                run.finish(run.new_node(name, display, "Skipped", exit_.template), "Error", str(exc))
            )
            go = False
        if go:
            extra.append(
                run_hook(run, exit_, f"{unit.node_name}.onExit", f"{unit.display}.onExit", scope, arts)
            )
    node.children.extend(n.name for n in extra)


@dataclass(frozen=True)
class TaskHooks:
    """The lifecycle hooks of one task / step instance (:mod:`.hooks`) and the scope they see."""

    named: tuple[Hook, ...]
    exit: Hook | None
    scope: Mapping[str, str]  # the task's scope when it was planned
    artifacts: Mapping[str, Mapping[str, Any]]
    ref: str  # "steps.NAME" / "tasks.NAME": where the node's outputs appear
    status_key: str  # Argo keys a step's status by its display name, a task's by its name


@dataclass(frozen=True)
class Unit:
    """One instance of a task / step, ready to run: the template and its rendered arguments."""

    tmpl_name: str
    node_name: str
    display: str
    params: dict[str, str]
    artifacts: dict[str, Mapping[str, Any]]
    hooks: TaskHooks | None = None


@dataclass(frozen=True)
class Instance:
    """One planned instance: a unit to run, or the phase of one that does not run (Skipped, Error)."""

    node_name: str
    display: str
    unit: Unit | None = None
    phase: str = ""
    message: str = ""


@dataclass
class Plan:
    """A task / step resolved against its frame; nothing of it exists yet."""

    name: str
    child_name: str
    display: str
    tmpl_name: str
    fanned: bool
    instances: list[Instance]


@dataclass
class Launch:
    """A started task / step: one slot per instance (a finished node, or the future of a unit)."""

    plan: Plan
    group: NodeResult | None = None  # the TaskGroup node of a DAG fan-out
    slots: list[NodeResult | Future[NodeResult | None]] = field(default_factory=list)
    skipped: NodeResult | None = None  # an empty loop: the Skipped node

    @property
    def name(self) -> str:
        return self.plan.name

    def futures(self) -> list[Future[NodeResult | None]]:
        return [s for s in self.slots if isinstance(s, Future)]

    def done(self) -> bool:
        return all(f.done() for f in self.futures())


def error_node(
    run: RunContext, parent: NodeResult, name: str, display: str, tmpl: str | None, msg: str
) -> NodeResult:
    """The Error node of a task / step that could not be scheduled (type Skipped, as on Argo)."""
    parent.children.append(name)
    return run.finish(run.new_node(name, display, "Skipped", tmpl), "Error", msg)


def resolve(run: RunContext, task: Mapping[str, Any], child_name: str, display: str, frame: Frame) -> Plan:
    """Resolve ``task`` (``when``, loop, arguments); a WorkflowError means the task itself errors."""
    tmpl_name = template_name(task)
    run.template(tmpl_name)  # an unknown template is this task's error
    items = _items(task, frame)
    fanned = items is not None
    out = Plan(str(task["name"]), child_name, display, tmpl_name, fanned, [])
    for i, item in enumerate(items if items is not None else [None]):
        label = item_label(i, item) if fanned else ""
        local = {**frame.scope, **item_scope(item)} if fanned else frame.scope
        out.instances.append(
            _instance(run, task, tmpl_name, child_name + label, display + label, local, frame)
        )
    return out


def _items(task: Mapping[str, Any], frame: Frame) -> list[Any] | None:
    try:
        return fanout.expand(task, frame.scope)
    except WorkflowError:
        # As Argo's expandTask: a loop that cannot be expanded is no error when ``when`` is false anyway.
        when = task.get("when")
        if when and not unresolved(render(str(when), frame.scope)):
            try:
                if not evaluate_when(render(str(when), frame.scope)):
                    return []
            except WorkflowError:
                pass
        raise


def _instance(
    run: RunContext,
    task: Mapping[str, Any],
    tmpl_name: str,
    node_name: str,
    display: str,
    local: Mapping[str, str],
    frame: Frame,
) -> Instance:
    when = task.get("when")
    if when:
        try:
            rendered = _render(str(when), local, frame, "when")
            left = unresolved(rendered)
            if left:
                raise WorkflowError(
                    f"when {when!r}: cannot resolve {{{{{left[0]}}}}}", "fix the variable name"
                )
            run_it = evaluate_when(rendered)
        except WorkflowError as exc:
            return Instance(node_name, display, phase="Error", message=str(exc))
        if not run_it:
            return Instance(node_name, display, phase="Skipped", message=f"when '{rendered}' evaluated false")
    args = task.get("arguments") or {}
    params = {str(p["name"]): _argument(p, local, frame) for p in args.get("parameters") or []}
    artifacts: dict[str, Mapping[str, Any]] = {}
    available = {**run.global_artifacts, **frame.artifacts} if args.get("artifacts") else {}
    for a in args.get("artifacts") or []:
        if "fromExpression" in a:
            artifacts[str(a["name"])] = artifact_from_expression(
                str(a["fromExpression"]), frame.expr_scope(local), available, f"artifact {a['name']!r}"
            )
            continue
        bound = bind_argument(render_obj(a, local), available, "")
        if bound is not None:
            artifacts[str(a["name"])] = bound
    return Instance(
        node_name,
        display,
        Unit(
            tmpl_name,
            node_name,
            display,
            params,
            artifacts,
            _hooks(task, display, local, frame, run.exit_args),
        ),
    )


def _hooks(
    task: Mapping[str, Any], display: str, local: Mapping[str, str], frame: Frame, wf_args: Any
) -> TaskHooks | None:
    """The task's hooks; an exit hook without arguments gets the workflow's (Argo's GetExitHook)."""
    if not task.get("hooks") and not task.get("onExit"):
        return None
    ref = f"{frame.prefix}.{task['name']}"
    status = f"{frame.prefix}.{display if frame.prefix == 'steps' else task['name']}.status"
    return TaskHooks(
        tuple(named_hooks(task)),
        exit_hook(task, wf_args or {}),
        dict(local),
        dict(frame.artifacts),
        ref,
        status,
    )


class ArtifactValue(dict[str, Any]):
    """An artifact in an expression's environment: what ``fromExpression`` must evaluate to."""


def artifact_from_expression(
    expression: str, scope: Mapping[str, Any], artifacts: Mapping[str, Mapping[str, Any]], where: str
) -> Mapping[str, Any]:
    """The artifact ``fromExpression`` selects (Argo's ``resolveArtifact``: expr-lang over the scope with
    the artifacts as values); anything but an artifact is an error naming the expression."""
    env: dict[str, Any] = dict(scope)
    env.update({k: ArtifactValue(v) for k, v in artifacts.items()})
    try:
        value = evaluate(expression, env)
    except WorkflowError as exc:
        raise WorkflowError(f"{where}.fromExpression: {exc.message}", exc.hint) from None
    if not isinstance(value, ArtifactValue):
        raise WorkflowError(
            f"{where}.fromExpression {expression!r} gave {value!r}, not an artifact",
            "select an artifact, e.g. steps.a.outputs.artifacts.out",
        )
    return dict(value)


def _argument(p: Mapping[str, Any], local: Mapping[str, str], frame: Frame) -> str:
    raw = str(p.get("value", ""))
    pure = _PURE_REF.match(raw)
    if pure and pure.group(1).strip() in frame.absent:
        return ABSENT  # Argo's markAbsentOptionalArgs: the consumer's input default applies
    value = _render(raw, local, frame, f"argument {p['name']!r}")
    left = unresolved(value, ("tasks.", "steps."))
    if left:
        raise WorkflowError(
            f"argument {p['name']!r}: cannot resolve {{{{{left[0]}}}}}",
            "reference a task this one depends on (or an earlier step) and an output it declares",
        )
    return value


def _render(text: str, local: Mapping[str, str], frame: Frame, what: str) -> str:
    absent = [t for t in unresolved(text) if t in frame.absent]
    if absent:
        raise WorkflowError(
            f"{what}: {{{{{absent[0]}}}}} is an output of a skipped or omitted {frame.prefix[:-1]} "
            "that declares no default",
            "declare valueFrom.default on that output, a default on the consuming input, "
            "or use an expression with ?? 'fallback'",
        )
    return render(text, frame.expr_scope(local))


def launch(run: RunContext, p: Plan, parent: NodeResult, pool: Pool, dag: bool = False) -> Launch:
    """Create the nodes of a planned task and submit each instance that runs (Argo's node names)."""
    out = Launch(p)
    if p.fanned and not p.instances:
        parent.children.append(p.child_name)
        skipped = run.new_node(p.child_name, p.display, "Skipped", p.tmpl_name)
        out.skipped = run.finish(skipped, "Skipped", "Skipped, empty params")
        return out
    group = parent
    if p.fanned and dag:
        group = out.group = run.new_node(p.child_name, p.display, "TaskGroup", p.tmpl_name)
        parent.children.append(p.child_name)
        run.emit(group)
    for inst in p.instances:
        group.children.append(inst.node_name)
        if inst.unit is not None:
            out.slots.append(pool.submit(run, inst.unit))
        else:
            node = run.new_node(inst.node_name, inst.display, "Skipped", p.tmpl_name)
            out.slots.append(run.finish(node, inst.phase, inst.message))
    return out


def complete(run: RunContext, out: Launch, parent: NodeResult, frame: Frame) -> tuple[str, list[str]]:
    """After every instance ended: publish the outputs (aggregated for a loop); return the task's phase
    and, for a loop, its instances' phases (for ``.AnySucceeded`` / ``.AllFailed``)."""
    if out.skipped is not None:
        publish(run, out.name, out.skipped, frame)
        return out.skipped.phase, []
    kids: list[NodeResult] = []
    holder = out.group or parent
    for inst, slot in zip(out.plan.instances, out.slots, strict=True):
        node = slot.result() if isinstance(slot, Future) else slot
        if node is None:  # never started (failFast): it has no node
            holder.children.remove(inst.node_name)
        else:
            kids.append(node)
    if not kids:  # nothing of it started (failFast)
        if out.group is not None:
            run.finish(out.group, "Omitted", FAIL_FAST_MESSAGE)
        return "", []
    if not out.plan.fanned:
        publish(run, out.name, kids[0], frame)
        return kids[0].phase, []
    agg = fanout.aggregate(kids)
    base = f"{frame.prefix}.{out.name}"
    frame.scope.update({f"{base}.status": agg.phase, f"{base}.id": out.plan.child_name})
    frame.scope[f"{base}.outputs.result"] = agg.result
    frame.scope[f"{base}.outputs.parameters"] = agg.parameter_maps
    for k, v in agg.parameters.items():
        frame.scope[f"{base}.outputs.parameters.{k}"] = v
    if out.group is not None:
        run.finish(out.group, agg.phase)
    return agg.phase, [k.phase for k in kids]


def publish(
    run: RunContext, name: str, node: NodeResult, frame: Frame, task: Mapping[str, Any] | None = None
) -> None:
    """Make a finished task's status and outputs visible as ``<prefix>.<name>.*``; a Skipped or Omitted
    one publishes its template's declared output defaults, the rest of its outputs are absent."""
    base = f"{frame.prefix}.{name}"
    frame.scope[f"{base}.status"] = node.phase
    frame.scope[f"{base}.id"] = node.name
    if node.exit_code is not None:
        frame.scope[f"{base}.exitCode"] = str(node.exit_code)
    if node.result is not None:
        frame.scope[f"{base}.outputs.result"] = node.result
    for k, v in node.parameters.items():
        frame.scope[f"{base}.outputs.parameters.{k}"] = v
    for a in node.artifacts:
        frame.artifacts[f"{base}.outputs.artifacts.{a['name']}"] = a
    if node.phase in ("Skipped", "Omitted") and not node.parameters and node.result is None:
        _skipped_outputs(run, base, node.template_name, frame)


def _skipped_outputs(run: RunContext, base: str, tmpl_name: str | None, frame: Frame) -> None:
    tmpl = run.templates.get(tmpl_name or "")
    if tmpl is None:
        return
    frame.absent.add(f"{base}.outputs.result")
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        key = f"{base}.outputs.parameters.{p['name']}"
        vf = p.get("valueFrom") or {}
        if "default" in vf:
            frame.scope[key] = str(vf["default"])
        else:
            frame.absent.add(key)
