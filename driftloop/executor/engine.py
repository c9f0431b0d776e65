"""Walk a workflow's templates on this machine, sequentially, in a deterministic order.

Argo runs independent DAG tasks and the steps of one group in parallel; here they run one after the
other (DAG: topological order with ties broken by declaration order; steps: in written order), like
KFP's local runner. Outcomes match Argo's for workflows whose steps do not race each other. DAG
``failFast`` is not applied: every task whose dependencies allow it runs, as if all had been started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.executor import graph, sync
from driftloop.executor.artifacts import ArtifactStore
from driftloop.executor.expr import evaluate, evaluate_when, format_value
from driftloop.executor.naming import item_label, item_scope
from driftloop.executor.pod import run_pod
from driftloop.executor.result import NodeResult
from driftloop.executor.retry import RetryPolicy, parse_duration
from driftloop.executor.template import render, render_obj, unresolved

__all__ = ["Run"]

_BAD = ("Failed", "Error")


class Run:
    """The state of one workflow run (its nodes, global scope and deadline)."""

    def __init__(
        self,
        wf: Mapping[str, Any],
        name: str,
        uid: str,
        sandbox_root: Path,
        logs_dir: Path,
        lock_dir: Path,
        store_factory: Callable[[], ArtifactStore],
        on_event: Callable[[NodeResult], None] | None,
        log: Callable[[str], None],
    ) -> None:
        self.spec = wf["spec"]
        self.name, self.uid = name, uid
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.nodes: list[NodeResult] = []
        self.globals: dict[str, str] = {}
        self.sandbox_root, self.logs_dir, self.lock_dir = sandbox_root, logs_dir, lock_dir
        self._store_factory = store_factory
        self._store: ArtifactStore | None = None
        self.on_event, self.log = on_event, log
        self.deadline: float | None = None
        self._image_noted = False

    # -- helpers -------------------------------------------------------------------------------
    def store(self) -> ArtifactStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def note_image(self, image: str | None) -> None:
        if image and not self._image_noted:
            self._image_noted = True
            self.log(f"note: container images are ignored locally (e.g. {image}); commands run on this host")

    def emit(self, node: NodeResult) -> None:
        if self.on_event:
            self.on_event(node)

    def new_node(self, name: str, display: str, type_: str, template: str | None) -> NodeResult:
        node = NodeResult(
            name=name,
            display_name=display,
            type=type_,
            template_name=template,
            phase="Running",
            started=time.time(),
        )
        self.nodes.append(node)
        return node

    def finish(self, node: NodeResult, phase: str, message: str = "") -> NodeResult:
        node.phase, node.finished = phase, time.time()
        if message:
            node.message = message
        self.emit(node)
        return node

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def template(self, name: str) -> Mapping[str, Any]:
        if name not in self.templates:
            raise WorkflowError(f"no template named {name!r}", "fix the 'template' reference")
        return self.templates[name]

    # -- templates ------------------------------------------------------------------------------
    def run_template(
        self,
        tmpl_name: str,
        node_name: str,
        display: str,
        params: Mapping[str, str],
        artifacts: Mapping[str, Mapping[str, Any]],
    ) -> NodeResult:
        """Run a template as a node (with its retries); WorkflowErrors become an Error node."""
        tmpl = self.template(tmpl_name)
        leaf = "script" in tmpl or "container" in tmpl
        spec_retry = self.spec.get("retryStrategy") if leaf else None
        policy = RetryPolicy.from_spec(
            tmpl.get("retryStrategy") or spec_retry, f"template {tmpl_name}.retryStrategy"
        )
        if policy is None:
            return self._run_once(tmpl, node_name, display, params, artifacts, 0)
        parent = self.new_node(node_name, display, "Retry", tmpl_name)
        self.emit(parent)
        first = time.monotonic()
        attempt = 0
        while True:
            child = self._run_once(
                tmpl, f"{node_name}({attempt})", f"{display}({attempt})", params, artifacts, attempt
            )
            parent.children.append(child.name)
            elapsed = time.monotonic() - first
            dur = (child.finished or 0) - (child.started or 0)
            retry = policy.should_retry(attempt, child.phase, child.exit_code, child.message, elapsed, dur)
            if not retry or (self.deadline is not None and time.monotonic() >= self.deadline):
                break
            wait = policy.delay(attempt)
            left = self.remaining()
            time.sleep(min(wait, left) if left is not None else wait)
            attempt += 1
        parent.result, parent.parameters, parent.artifacts = child.result, child.parameters, child.artifacts
        parent.exit_code = child.exit_code
        return self.finish(parent, child.phase, child.message)

    def _run_once(
        self,
        tmpl: Mapping[str, Any],
        node_name: str,
        display: str,
        params: Mapping[str, str],
        artifacts: Mapping[str, Mapping[str, Any]],
        retries: int,
    ) -> NodeResult:
        kind = next(k for k in ("dag", "steps", "script", "container") if k in tmpl)
        type_ = {"dag": "DAG", "steps": "Steps"}.get(kind, "Pod")
        node = self.new_node(node_name, display, type_, str(tmpl["name"]))
        self.emit(node)
        try:
            scope = self._input_scope(tmpl, params)
            scope.update({"retries": str(retries), "node.name": node_name})
            mutexes = [
                render(m, scope)
                for m in sync.mutex_names(
                    tmpl.get("synchronization"), f"template {tmpl['name']}.synchronization"
                )
            ]
            timeout = self.remaining()
            ads = tmpl.get("activeDeadlineSeconds") or tmpl.get("timeout")
            if ads is not None:
                own = parse_duration(
                    render(str(ads), scope), f"template {tmpl['name']}.activeDeadlineSeconds"
                )
                timeout = own if timeout is None else min(own, timeout)
            with sync.hold_mutexes(
                self.lock_dir, mutexes, lambda m: self.log(f"{node_name}: waiting for mutex {m}")
            ):
                if kind == "dag":
                    self._run_dag(tmpl, node, scope)
                elif kind == "steps":
                    self._run_steps(tmpl, node, scope)
                else:
                    run_pod(self, tmpl, node, scope, artifacts, timeout)
        except WorkflowError as exc:
            node.phase, node.message = "Error", str(exc)
        return self.finish(node, node.phase)

    def _input_scope(self, tmpl: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, str]:
        scope = dict(self.globals)
        values = []
        for p in (tmpl.get("inputs") or {}).get("parameters") or []:
            pname = str(p["name"])
            if pname in params:
                value = params[pname]
            elif "value" in p:
                value = render(str(p["value"]), scope)
            elif "default" in p:
                value = render(str(p["default"]), scope)
            else:
                raise WorkflowError(
                    f"inputs.parameters.{pname} was not supplied to template {tmpl['name']!r}",
                    "pass it in the step's/task's arguments",
                )
            if p.get("enum") and value not in [str(e) for e in p["enum"]]:
                raise WorkflowError(
                    f"inputs.parameters.{pname}: {value!r} is not one of {p['enum']}",
                    "pass one of the allowed values",
                )
            scope[f"inputs.parameters.{pname}"] = value
            values.append({"name": pname, "value": value})
        scope["inputs.parameters"] = json.dumps(values)
        for a in (tmpl.get("inputs") or {}).get("artifacts") or []:
            if a.get("path"):
                scope[f"inputs.artifacts.{a['name']}.path"] = str(a["path"])
        return scope

    def _template_outputs(
        self,
        tmpl: Mapping[str, Any],
        node: NodeResult,
        scope: dict[str, str],
        art_scope: Mapping[str, Mapping[str, Any]],
    ) -> None:
        outputs = tmpl.get("outputs") or {}
        for p in outputs.get("parameters") or []:
            vf = p.get("valueFrom") or {}
            if "parameter" in vf:
                value = render(str(vf["parameter"]), scope)
                if unresolved(value) and "default" in vf:
                    value = str(vf["default"])
            elif "expression" in vf:
                value = format_value(evaluate(str(vf["expression"]), _expr_vars(scope)))
            else:
                value = str(vf.get("default", p.get("value", "")))
            node.parameters[str(p["name"])] = value
            if p.get("globalName"):
                self.globals[f"workflow.outputs.parameters.{p['globalName']}"] = value
        for a in outputs.get("artifacts") or []:
            src = art_scope.get(str(a.get("from", "")).strip("{} "))
            if src:
                node.artifacts.append({**src, "name": a["name"]})

    # -- dag / steps -----------------------------------------------------------------------------
    def _run_dag(self, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
        tasks = list(tmpl["dag"].get("tasks") or [])
        by_name = {str(t["name"]): t for t in tasks}
        order = graph.topological_order(tasks)
        target = tmpl["dag"].get("target")
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
            if self.deadline is not None and time.monotonic() >= self.deadline:
                phases[name] = "Omitted"
                continue
            if not graph.depends_satisfied(task, phases, continue_on):
                omitted = self.new_node(child_name, name, "Skipped", task.get("template"))
                node.children.append(child_name)
                phases[name] = self.finish(omitted, "Omitted", "omitted: depends condition not met").phase
                continue
            phases[name] = self._run_task(task, child_name, name, scope, art_scope, "tasks", node, dag=True)
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
        if self.deadline is not None and time.monotonic() >= self.deadline:
            node.phase, node.message = "Failed", "Max duration limit exceeded"
        elif bad:
            node.phase = "Error" if any(effective[n] == "Error" for n in bad) else "Failed"
            node.message = f"child '{node.name}.{bad[0]}' failed"
        else:
            node.phase = "Succeeded"
            self._template_outputs(tmpl, node, scope, art_scope)

    def _run_steps(self, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
        art_scope: dict[str, Mapping[str, Any]] = {}
        node.phase = "Succeeded"
        for i, group in enumerate(tmpl["steps"] or []):
            if self.deadline is not None and time.monotonic() >= self.deadline:
                node.phase, node.message = "Failed", "Max duration limit exceeded"
                return
            gnode = self.new_node(f"{node.name}[{i}]", f"[{i}]", "StepGroup", None)
            node.children.append(gnode.name)
            self.emit(gnode)
            failed = []
            for step in group or []:
                sname = str(step["name"])
                phase = self._run_task(step, f"{gnode.name}.{sname}", sname, scope, art_scope, "steps", gnode)
                co = step.get("continueOn") or {}
                if (phase == "Failed" and not co.get("failed")) or (phase == "Error" and not co.get("error")):
                    failed.append((sname, phase))
            if failed:
                phase = "Error" if any(p == "Error" for _, p in failed) else "Failed"
                self.finish(gnode, phase, f"child '{gnode.name}.{failed[0][0]}' failed")
                node.phase, node.message = phase, gnode.message
                return
            self.finish(gnode, "Succeeded")
        self._template_outputs(tmpl, node, scope, art_scope)

    def _run_task(
        self,
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
        items = self._items(task, scope)
        tmpl_name = str(task.get("template") or (task.get("templateRef") or {}).get("template"))
        if items is None:
            child = self._run_one(task, tmpl_name, child_name, display, scope, art_scope, {}, parent)
            self._publish(prefix, name, child, scope, art_scope)
            return child.phase
        if not items:
            skipped = self.new_node(child_name, display, "Skipped", tmpl_name)
            parent.children.append(child_name)
            return self.finish(skipped, "Skipped", "Skipped, empty params").phase
        group = parent
        if dag:
            group = self.new_node(child_name, display, "TaskGroup", tmpl_name)
            parent.children.append(child_name)
            self.emit(group)
        kids = []
        for i, item in enumerate(items):
            label = item_label(i, item)
            kids.append(
                self._run_one(
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
        phases = [k.phase for k in kids]
        phase = (
            "Error"
            if "Error" in phases
            else "Failed"
            if "Failed" in phases
            else ("Skipped" if all(p == "Skipped" for p in phases) else "Succeeded")
        )
        agg = NodeResult(child_name, display, "TaskGroup", tmpl_name, phase=phase)
        agg.result = json.dumps([_jsonish(k.result) for k in kids if k.phase == "Succeeded"])
        for pname in {p for k in kids for p in k.parameters}:
            agg.parameters[pname] = json.dumps(
                [k.parameters.get(pname) for k in kids if pname in k.parameters]
            )
        self._publish(prefix, name, agg, scope, art_scope)
        scope[f"{prefix}.{name}#children"] = ",".join(phases)
        if dag:
            self.finish(group, phase)
        return phase

    def _run_one(
        self,
        task: Mapping[str, Any],
        tmpl_name: str,
        node_name: str,
        display: str,
        scope: dict[str, str],
        art_scope: Mapping[str, Mapping[str, Any]],
        extra: dict[str, str],
        parent: NodeResult,
    ) -> NodeResult:
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
                return self.finish(self.new_node(node_name, display, "Skipped", tmpl_name), "Error", str(exc))
            if not run_it:
                skipped = self.new_node(node_name, display, "Skipped", tmpl_name)
                return self.finish(skipped, "Skipped", f"when '{rendered}' evaluated false")
        args = task.get("arguments") or {}
        params = {
            str(p["name"]): render(str(p.get("value", "")), local) for p in args.get("parameters") or []
        }
        artifacts: dict[str, Mapping[str, Any]] = {}
        for a in args.get("artifacts") or []:
            a = render_obj(a, local)
            if "from" in a:
                ref = str(a["from"]).strip("{} ")
                if ref not in art_scope:
                    return self.finish(
                        self.new_node(node_name, display, "Pod", tmpl_name),
                        "Error",
                        f"artifact {a['name']!r}: cannot resolve {a['from']!r}",
                    )
                artifacts[str(a["name"])] = art_scope[ref]
            else:
                artifacts[str(a["name"])] = a
        try:
            return self.run_template(tmpl_name, node_name, display, params, artifacts)
        except WorkflowError as exc:
            return self.finish(self.new_node(node_name, display, "Pod", tmpl_name), "Error", str(exc))

    def _publish(
        self,
        prefix: str,
        name: str,
        node: NodeResult,
        scope: dict[str, str],
        art_scope: dict[str, Mapping[str, Any]],
    ) -> None:
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

    def _items(self, task: Mapping[str, Any], scope: Mapping[str, str]) -> list[Any] | None:
        if "withItems" in task:
            return list(render_obj(task["withItems"], scope) or [])
        if "withParam" in task:
            text = render(str(task["withParam"]), scope)
            try:
                items = json.loads(text)
            except ValueError:
                raise WorkflowError(
                    f"withParam of {task['name']!r} is not a JSON list: {text[:80]!r}",
                    "make the parameter a JSON list",
                ) from None
            if not isinstance(items, list):
                raise WorkflowError(
                    f"withParam of {task['name']!r} is not a JSON list", "make it a JSON list"
                )
            return items
        if "withSequence" in task:
            seq = render_obj(task["withSequence"], scope)
            start = int(seq.get("start", 0))
            end = int(seq["end"]) if "end" in seq else start + int(seq.get("count", 0)) - 1
            step = 1 if end >= start else -1
            fmt = seq.get("format")
            return [fmt % i if fmt else str(i) for i in range(start, end + step, step)]
        return None


def _jsonish(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return text


def _expr_vars(scope: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(scope)
    for key in list(scope):  # a task that did not run has no result: expr sees nil
        if key.endswith(".status"):
            out.setdefault(key[: -len(".status")] + ".outputs.result", None)
    return out
