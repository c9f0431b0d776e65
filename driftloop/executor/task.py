"""One DAG task or step: its ``when``, its arguments, its fan-out, and publishing its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.executor import fanout
from driftloop.executor.expr import evaluate_when
from driftloop.executor.naming import item_label, item_scope
from driftloop.executor.result import NodeResult
from driftloop.executor.template import render, render_obj, unresolved

if TYPE_CHECKING:
    from driftloop.executor.engine import Run

__all__ = ["publish", "run_one", "run_task"]


def run_task(
    run: Run,
    task: Mapping[str, Any],
    child_name: str,
    display: str,
    scope: dict[str, str],
    art_scope: dict[str, Mapping[str, Any]],
    prefix: str,
    parent: NodeResult,
    dag: bool = False,
) -> str:
    """Run one DAG task / step (with fan-out); publish its outputs into ``scope``; return its phase."""
    name = str(task["name"])
    items = fanout.expand(task, scope)
    tmpl_name = template_name(task)
    if items is None:
        child = run_one(run, task, tmpl_name, child_name, display, scope, art_scope, {}, parent)
        publish(prefix, name, child, scope, art_scope)
        return child.phase
    if not items:
        skipped = run.new_node(child_name, display, "Skipped", tmpl_name)
        parent.children.append(child_name)
        return run.finish(skipped, "Skipped", "Skipped, empty params").phase
    group = parent
    if dag:
        group = run.new_node(child_name, display, "TaskGroup", tmpl_name)
        parent.children.append(child_name)
        run.emit(group)
    kids = []
    for i, item in enumerate(items):
        label = item_label(i, item)
        kids.append(
            run_one(
                run,
                task,
                tmpl_name,
                f"{child_name}{label}",
                f"{display}{label}",
                scope,
                art_scope,
                item_scope(item),
                group,
            )
        )
    agg = fanout.aggregate(child_name, display, tmpl_name, kids)
    publish(prefix, name, agg, scope, art_scope)
    scope[f"{prefix}.{name}#children"] = ",".join(k.phase for k in kids)
    if dag:
        run.finish(group, agg.phase)
    return agg.phase


def template_name(task: Mapping[str, Any]) -> str:
    """The template a task / step refers to (``template`` or ``templateRef.template``)."""
    return str(task.get("template") or (task.get("templateRef") or {}).get("template"))


def run_one(
    run: Run,
    task: Mapping[str, Any],
    tmpl_name: str,
    node_name: str,
    display: str,
    scope: dict[str, str],
    art_scope: Mapping[str, Mapping[str, Any]],
    extra: dict[str, str],
    parent: NodeResult,
) -> NodeResult:
    """Run one (possibly fanned-out) instance of a task: ``when``, arguments, then the template."""
    local = {**scope, **extra}
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
    try:
        return run.run_template(tmpl_name, node_name, display, params, artifacts)
    except WorkflowError as exc:
        return run.finish(run.new_node(node_name, display, "Pod", tmpl_name), "Error", str(exc))


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
