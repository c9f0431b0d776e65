"""Lifecycle hooks: ``onExit`` / ``hooks.exit`` and named ``hooks`` with an ``expression``, on the
workflow and on a step or DAG task (Argo's ``workflow/controller/hooks.go`` and ``exit_handler.go``).

- A **named hook** runs its template once, as soon as its expression holds: Argo evaluates it on every
  pass of the controller; here it is evaluated when the workflow (or the task) starts running — with
  ``status`` ``Running`` — and again when it has ended, with its final status. A hook that fires at the
  start runs beside the workflow / task, and the workflow (or the task's dependents) waits for it.
  Its node is ``<parent>.hooks.<name>``, a child of the workflow's root / the task's node; its phase does
  not change the parent's.
- An **exit hook** (``onExit: NAME`` or ``hooks: {exit: {...}}``) of a step / task runs after the node
  completed (Succeeded, Failed or Error — not Skipped), as ``<node>.onExit``; its arguments may use the
  node's outputs (``steps.NAME.outputs.parameters.X``) and ``status``. Dependents wait for it; its phase
  does not change the task's. The workflow's exit hook is ``spec.onExit`` / ``spec.hooks.exit``.
- Without arguments of its own, an exit hook gets the workflow's arguments (Argo's ``GetExitHook``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.artifacts import bind_argument
from driftloop.local.executor.expr import evaluate
from driftloop.local.executor.naming import template_name
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.template import render, render_obj, unresolved

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext

__all__ = ["EXIT", "Hook", "HookRunner", "exit_hook", "named_hooks", "run_hook"]

EXIT = "exit"


@dataclass(frozen=True)
class Hook:
    """One lifecycle hook: which template runs, with which arguments, and when."""

    name: str
    template: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    expression: str = ""


def exit_hook(holder: Mapping[str, Any], default_args: Mapping[str, Any]) -> Hook | None:
    """The exit hook of a workflow spec / step / task: ``onExit`` wins over ``hooks.exit``."""
    if holder.get("onExit"):
        return Hook(EXIT, str(holder["onExit"]), default_args)
    hook = (holder.get("hooks") or {}).get(EXIT)
    if not hook:
        return None
    return Hook(
        EXIT, template_name(hook), hook.get("arguments") or default_args, str(hook.get("expression") or "")
    )


def named_hooks(holder: Mapping[str, Any]) -> list[Hook]:
    """The hooks other than ``exit``, in name order (each needs an ``expression``, as on Argo)."""
    return [
        Hook(str(name), template_name(hook), hook.get("arguments") or {}, str(hook.get("expression") or ""))
        for name, hook in sorted((holder.get("hooks") or {}).items())
        if name != EXIT
    ]


def fires(hook: Hook, scope: Mapping[str, Any]) -> bool:
    """Whether ``hook``'s expression holds in ``scope`` (a flat scope: ``steps.a.status`` ...)."""
    value = evaluate(hook.expression, scope)
    if not isinstance(value, bool):
        raise WorkflowError(
            f"hook {hook.name}: expression {hook.expression!r} gave {value!r}, not true or false",
            'write a condition, e.g. workflow.status == "Running"',
        )
    return value


def run_hook(
    run: RunContext,
    hook: Hook,
    node_name: str,
    display: str,
    scope: Mapping[str, str],
    artifacts: Mapping[str, Any],
) -> NodeResult:
    """Run ``hook``'s template as node ``node_name``, its arguments rendered in ``scope``."""
    try:
        params: dict[str, str] = {}
        for p in hook.arguments.get("parameters") or []:
            value = render(str(p.get("value", "")), scope)
            left = unresolved(value)
            if left:
                raise WorkflowError(
                    f"hook {hook.name}: argument {p['name']!r}: cannot resolve {{{{{left[0]}}}}}",
                    "an exit hook sees the node's status and output parameters and artifacts",
                )
            params[str(p["name"])] = value
        arts: dict[str, Mapping[str, Any]] = {}
        for a in hook.arguments.get("artifacts") or []:
            bound = bind_argument(render_obj(a, scope), artifacts, f"hook {hook.name}: ")
            if bound is not None:
                arts[str(a["name"])] = bound
        return run.run_template(hook.template, node_name, display, params, arts)
    except WorkflowError as exc:
        return run.finish(run.new_node(node_name, display, "Skipped", hook.template), "Error", str(exc))


class HookRunner:
    """The named hooks of one workflow or task: fired at most once each, those fired at the start run on
    their own thread; :meth:`join` waits for them and returns their nodes (for the parent's children)."""

    def __init__(self, run: RunContext, hooks: list[Hook], node_name: str, display: str) -> None:
        self.run, self.hooks = run, hooks
        self.node_name, self.display = node_name, display
        self._fired: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._nodes: list[NodeResult] = []
        self._lock = threading.Lock()

    def check(self, scope: Mapping[str, Any], artifacts: Mapping[str, Any], background: bool) -> None:
        """Fire every hook not yet fired whose expression holds in ``scope``."""
        for hook in self.hooks:
            if hook.name in self._fired:
                continue
            name, display = f"{self.node_name}.hooks.{hook.name}", f"{self.display}.hooks.{hook.name}"
            try:
                go = fires(hook, scope)
            except WorkflowError as exc:
                self._fired.add(hook.name)
                node = self.run.finish(
                    self.run.new_node(name, display, "Skipped", hook.template), "Error", str(exc)
                )
                self._add(node)
                continue
            if not go:
                continue
            self._fired.add(hook.name)
            rendered = {k: v for k, v in scope.items() if isinstance(v, str)}
            job = functools.partial(self._run, hook, name, display, rendered, artifacts)
            if background:
                t = threading.Thread(target=job, name=f"driftloop-hook-{hook.name}", daemon=True)
                t.start()
                self._threads.append(t)
            else:
                job()

    def _run(
        self, hook: Hook, name: str, display: str, scope: Mapping[str, str], artifacts: Mapping[str, Any]
    ) -> None:
        self._add(run_hook(self.run, hook, name, display, scope, artifacts))

    def join(self) -> list[NodeResult]:
        for t in self._threads:
            t.join()
        with self._lock:
            return sorted(self._nodes, key=lambda n: n.name)

    def _add(self, node: NodeResult) -> None:
        with self._lock:
            self._nodes.append(node)
