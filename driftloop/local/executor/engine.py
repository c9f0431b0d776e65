"""The state of one run and how a template becomes a node (inputs, retries, deadline, mutexes).

As on Argo, independent DAG tasks (:mod:`.dag`), the steps of one group (:mod:`.steps`) and fan-out
instances run at the same time, each on a worker thread that waits for its host process. So the
:class:`Run` is shared between threads: nodes, the global scope, the artifact store and ``on_event``
are guarded by locks (``on_event`` is never called concurrently), and ``spec.parallelism`` caps the
pods running at once across the whole workflow (a pod waits for a slot after its mutexes, so a waiting
pod never blocks a mutex holder's pods). Records stay deterministic: :func:`.result.tree_order` lists
the nodes as a sequential walk would have created them, whatever order they finished in.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from driftloop.errors import WorkflowError
from driftloop.local.executor import cancel, memoize, sync
from driftloop.local.executor.artifacts import ArtifactStore
from driftloop.local.executor.context import Guard
from driftloop.local.executor.dag import run_dag
from driftloop.local.executor.expr import evaluate, format_value
from driftloop.local.executor.hooks import HookRunner
from driftloop.local.executor.model import NODE_TYPES
from driftloop.local.executor.pod import run_pod
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.retry import RetryPolicy, parse_duration
from driftloop.local.executor.steps import run_steps
from driftloop.local.executor.suspend import run_suspend
from driftloop.local.executor.task import ABSENT, artifact_from_expression
from driftloop.local.executor.template import render, unresolved

__all__ = ["DISPLAY_NAME", "Run"]

#: the template annotation that names a node in Argo's node list (Argo 4)
DISPLAY_NAME = "workflows.argoproj.io/display-name"


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
        #: writes the run record now (a suspended node shows in `runs show` while it waits)
        self.checkpoint: Callable[[], object] = lambda: None
        self._store_factory = store_factory
        self._store: ArtifactStore | None = None
        self.on_event, self.log = on_event, log
        self.deadline: float | None = None
        self._image_noted = False
        self._lock = threading.Lock()  # nodes, globals, store, image note
        self._emit_lock = threading.Lock()
        self._pod_slots = _slots(self.spec.get("parallelism"))
        #: environment every pod gets on top of this process's (e.g. DRIFTLOOP_CONFIG)
        self.pod_env: dict[str, str] = {}
        #: host paths every pod reads at their own path (the data directory, with the run's settings)
        self.host_paths: list[Path] = []
        #: the workflow's arguments (with the run's values): what an exit hook without arguments gets
        self.exit_args: dict[str, Any] = {}
        #: ``workflow.outputs.artifacts.*`` (outputs with ``globalName``)
        self.global_artifacts: dict[str, Mapping[str, Any]] = {}
        #: when the run started (wall clock), for ``workflow.duration``
        self.started_at: float | None = None
        #: the workflow's named lifecycle hooks (set when the run starts)
        self.hooks: HookRunner | None = None
        #: where ``memoize`` caches live (``<data_dir>/memoize``); None: memoization is off
        self.memo_dir: Path | None = None
        #: set once the run is cancelled (:mod:`.cancel`): running steps stop, nothing new starts
        self.cancel_event = threading.Event()
        self._exiting = False  # the exit handler runs: a cancel request no longer applies

    # -- cancellation (:mod:`.cancel`) ----------------------------------------------------------
    def request_cancel(self) -> None:
        if not self._exiting:
            self.cancel_event.set()

    def cancelled(self) -> bool:
        """Whether the run is cancelled: by this process, or by ``runs cancel`` (the request file)."""
        if self._exiting:
            return False
        if not self.cancel_event.is_set() and (self.logs_dir.parent / cancel.CANCEL).exists():
            self.cancel_event.set()
        return self.cancel_event.is_set()

    def check_cancel(self) -> None:
        """Raise :class:`.cancel.RunCancelled` when the run is cancelled."""
        if self.cancelled():
            raise cancel.RunCancelled

    def exiting(self) -> None:
        """The run's exit handler runs now: its steps run whatever was requested before."""
        self._exiting = True
        self.cancel_event.clear()
        (self.logs_dir.parent / cancel.CANCEL).unlink(missing_ok=True)

    # -- helpers -------------------------------------------------------------------------------
    def store(self) -> ArtifactStore:
        with self._lock:
            if self._store is None:
                self._store = self._store_factory()
            return self._store

    def note_image(self, image: str | None) -> None:
        with self._lock:
            if not image or self._image_noted:
                return
            self._image_noted = True
        self.log(f"note: container images are ignored locally (e.g. {image}); commands run on this host")

    def emit(self, node: NodeResult) -> None:
        if self.on_event:
            with self._emit_lock:
                self.on_event(node)

    def global_scope(self) -> dict[str, str]:
        """A copy of the workflow-wide variables (``workflow.*``). While the run runs, ``workflow.duration``
        is the seconds so far, as Argo sets it at each pass (``setGlobalRuntimeParameters``, ``%f``)."""
        with self._lock:
            out = dict(self.globals)
        if "workflow.duration" not in out and self.started_at is not None:
            out["workflow.duration"] = f"{time.time() - self.started_at:.6f}"
        return out

    def set_global(self, key: str, value: str) -> None:
        with self._lock:
            self.globals[key] = value

    @contextlib.contextmanager
    def pod_slot(self) -> Iterator[None]:
        """Hold one of the ``spec.parallelism`` slots while a pod runs."""
        if self._pod_slots is None:
            yield
            return
        with self._pod_slots:
            yield

    def new_node(self, name: str, display: str, type_: str, template: str | None) -> NodeResult:
        node = NodeResult(
            name=name,
            display_name=display,
            type=type_,
            template_name=template,
            phase="Running",
            started=time.time(),
        )
        with self._lock:
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
        guard: Guard | None = None,
    ) -> NodeResult:
        """Run a template as a node (with its retries); WorkflowErrors become an Error node.

        ``guard`` (the parent template's pool) hears of each finished attempt and, once its ``failFast``
        tripped, stops further retries (Argo starts no new child of such a template).
        """
        tmpl = self.template(tmpl_name)
        memo: memoize.Memo | None = None
        if tmpl.get("memoize") is not None and self.memo_dir is not None:
            try:
                memo = memoize.memo_of(tmpl, self._input_scope(tmpl, params))
            except WorkflowError as exc:
                node = self.new_node(node_name, display, NODE_TYPES[template_kind(tmpl)], tmpl_name)
                return self.finish(node, "Error", str(exc))
            cached = memoize.load(self.memo_dir, memo)
            if cached is not None:  # a hit: Succeeded with the cached outputs, nothing runs
                node = self.new_node(node_name, display, NODE_TYPES[template_kind(tmpl)], tmpl_name)
                node.result, node.memoization = cached.get("result"), memo.status(hit=True)
                node.parameters = dict(cached.get("parameters") or {})
                node.artifacts = list(cached.get("artifacts") or [])
                node.exit_code = cached.get("exitCode")  # Argo caches the whole outputs, exitCode too
                self._globals_of(tmpl, node)
                return self.finish(node, "Succeeded")
        node = self._run_with_retries(tmpl, node_name, display, params, artifacts, guard)
        self._globals_of(tmpl, node)
        if memo is not None and self.memo_dir is not None:
            node.memoization = memo.status(hit=False)
            if node.phase == "Succeeded":
                memoize.save(self.memo_dir, memo, node)
        return node

    def _globals_of(self, tmpl: Mapping[str, Any], node: NodeResult) -> None:
        """Outputs with ``globalName`` become ``workflow.outputs.*`` (a memoized hit sets them too)."""
        outputs = tmpl.get("outputs") or {}
        for p in outputs.get("parameters") or []:
            if p.get("globalName") and str(p["name"]) in node.parameters:
                self.set_global(
                    f"workflow.outputs.parameters.{p['globalName']}", node.parameters[str(p["name"])]
                )
        produced = {str(a.get("name")): a for a in node.artifacts}
        for a in outputs.get("artifacts") or []:
            if a.get("globalName") and str(a["name"]) in produced:
                self.set_global_artifact(str(a["globalName"]), produced[str(a["name"])])

    def set_global_artifact(self, name: str, artifact: Mapping[str, Any]) -> None:
        with self._lock:
            self.global_artifacts[f"workflow.outputs.artifacts.{name}"] = artifact

    def _run_with_retries(
        self,
        tmpl: Mapping[str, Any],
        node_name: str,
        display: str,
        params: Mapping[str, str],
        artifacts: Mapping[str, Mapping[str, Any]],
        guard: Guard | None,
    ) -> NodeResult:
        tmpl_name = str(tmpl["name"])
        try:
            policy = self._retry_policy(tmpl, params)
        except WorkflowError as exc:
            node = self.new_node(node_name, display, "Skipped", tmpl_name)
            return self.finish(node, "Error", str(exc))
        if policy is None:
            return self._run_once(tmpl, node_name, display, params, artifacts, 0)
        parent = self.new_node(node_name, display, "Retry", tmpl_name)
        self.emit(parent)
        first = time.monotonic()
        attempt = 0
        while True:
            # Argo's executionDeadline: a retry's pod may not outlive first start + maxDuration
            until = first + policy.max_duration if attempt and policy.max_duration is not None else None
            child = self._run_once(
                tmpl, f"{node_name}({attempt})", f"{display}({attempt})", params, artifacts, attempt, until
            )
            parent.children.append(child.name)
            if guard is not None:
                guard.report(child)
            phase = child.phase
            try:
                retry, message = policy.decide(attempt, child, time.monotonic() - first)
            except WorkflowError as exc:  # e.g. an expression that cannot be evaluated: the Retry node
                retry, message, phase = False, str(exc), "Error"  # errors (no second node of its name)
            stopped = self.deadline is not None and time.monotonic() >= self.deadline
            if not retry or stopped or (guard is not None and guard.tripped):
                break
            wait = policy.delay(attempt)
            left = self.remaining()
            time.sleep(min(wait, left) if left is not None else wait)
            attempt += 1
        parent.result, parent.parameters, parent.artifacts = child.result, child.parameters, child.artifacts
        parent.exit_code = child.exit_code
        return self.finish(parent, phase, message or child.message)

    def _retry_policy(self, tmpl: Mapping[str, Any], params: Mapping[str, str]) -> RetryPolicy | None:
        """The template's ``retryStrategy`` (else the workflow's, as Argo's ``woc.retryStrategy``), with
        the template's inputs substituted into its ``expression``."""
        spec = tmpl.get("retryStrategy")
        if spec is None:
            spec = self.spec.get("retryStrategy")
        if spec is None:
            return None
        where = f"template {tmpl['name']}.retryStrategy"
        if isinstance(spec, Mapping) and spec.get("expression"):
            try:
                scope = self._input_scope(tmpl, params)
            except WorkflowError:
                scope = self.global_scope()  # the attempt reports the missing input itself
            spec = {**spec, "expression": render(str(spec["expression"]), scope)}
        return RetryPolicy.from_spec(spec, where)

    def _run_once(
        self,
        tmpl: Mapping[str, Any],
        node_name: str,
        display: str,
        params: Mapping[str, str],
        artifacts: Mapping[str, Mapping[str, Any]],
        retries: int,
        until: float | None = None,
    ) -> NodeResult:
        """One attempt of ``tmpl``; ``until`` (monotonic) is a retry's maxDuration deadline for its pod."""
        kind = template_kind(tmpl)
        node = self.new_node(node_name, display, NODE_TYPES[kind], str(tmpl["name"]))
        self.emit(node)
        try:
            scope = self._input_scope(tmpl, params)
            scope.update({"retries": str(retries), "node.name": node_name})
            shown = (tmpl.get("annotations") or {}).get(DISPLAY_NAME)
            if shown:  # Argo 4's template annotation: the node's name in the node list
                node.display_name = render(str(shown), scope)
            mutexes = [
                render(m, scope)
                for m in sync.mutex_names(
                    tmpl.get("synchronization"), f"template {tmpl['name']}.synchronization"
                )
            ]
            own: float | None = None
            ads = tmpl.get("activeDeadlineSeconds") or tmpl.get("timeout")
            if ads is not None:
                own = parse_duration(
                    render(str(ads), scope), f"template {tmpl['name']}.activeDeadlineSeconds"
                )
            self.check_cancel()
            with sync.hold_mutexes(
                self.lock_dir,
                mutexes,
                lambda m: self.log(f"{node_name}: waiting for mutex {m}"),
                cancelled=self.check_cancel,
            ):
                if kind in ("dag", "steps"):  # its input artifacts are in scope as inputs.artifacts.NAME
                    given = {
                        f"inputs.artifacts.{a['name']}": {**a, **artifacts.get(str(a["name"]), {})}
                        for a in (tmpl.get("inputs") or {}).get("artifacts") or []
                    }
                    (run_dag if kind == "dag" else run_steps)(self, tmpl, node, scope, given)
                elif kind == "suspend":
                    run_suspend(self, tmpl, node, scope)
                else:
                    with self.pod_slot():  # started = when the process starts, after mutexes and slot
                        node.started = time.time()
                        limits = [self.remaining(), own, None if until is None else until - time.monotonic()]
                        timeout = min((t for t in limits if t is not None), default=None)
                        if timeout is not None:
                            timeout = max(0.0, timeout)
                        run_pod(self, tmpl, node, scope, artifacts, timeout)
        except WorkflowError as exc:
            node.phase, node.message = "Error", str(exc)
        return self.finish(node, node.phase)

    def _input_scope(self, tmpl: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, str]:
        scope = self.global_scope()
        values = []
        for p in (tmpl.get("inputs") or {}).get("parameters") or []:
            pname = str(p["name"])
            if params.get(pname, ABSENT) != ABSENT:
                value = params[pname]
            elif "value" in p:
                value = render(str(p["value"]), scope)
            elif "default" in p:
                value = render(str(p["default"]), scope)
            elif pname in params:  # Argo's ProcessArgs: an absent optional with no input default
                raise WorkflowError(
                    f"inputs.parameters.{pname} of template {tmpl['name']!r}: its argument references an "
                    "output of a skipped or omitted step/task that declares no default",
                    "declare valueFrom.default on that output or a default on this input",
                )
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

    def template_outputs(
        self,
        tmpl: Mapping[str, Any],
        node: NodeResult,
        scope: Mapping[str, str],
        art_scope: Mapping[str, Mapping[str, Any]],
        absent: Collection[str] = (),
    ) -> None:
        """A dag / steps template's outputs from its children's (Argo's getTemplateOutputsFromScope).

        A ``valueFrom.parameter`` that does not resolve, or resolves to an absent output, and a
        ``valueFrom.expression`` that fails or gives nil, take ``valueFrom.default``; without one the
        node errors (never the literal ``{{...}}``).
        """
        outputs = tmpl.get("outputs") or {}
        for p in outputs.get("parameters") or []:
            vf = p.get("valueFrom") or {}
            value = _output_value(str(p["name"]), vf, scope, absent)
            if value is None:
                value = str(vf.get("default", p.get("value", "")))
            node.parameters[str(p["name"])] = value
            if p.get("globalName"):
                self.set_global(f"workflow.outputs.parameters.{p['globalName']}", value)
        for a in outputs.get("artifacts") or []:
            if a.get("fromExpression"):
                src: Mapping[str, Any] | None = artifact_from_expression(
                    str(a["fromExpression"]),
                    _expr_vars(scope, absent),
                    {**self.global_artifacts, **art_scope},
                    f"template {tmpl['name']}.outputs.artifacts.{a['name']}",
                )
            else:
                src = art_scope.get(str(a.get("from", "")).strip("{} "))
            if src:
                node.artifacts.append({**src, "name": a["name"]})


def _output_value(
    name: str, vf: Mapping[str, Any], scope: Mapping[str, str], absent: Collection[str]
) -> str | None:
    """The value of one output parameter of a dag / steps template; None: no source (use the default)."""
    if "parameter" in vf:
        problem = _parameter_problem(str(vf["parameter"]), scope, absent)
        if problem is None:
            return render(str(vf["parameter"]), _with_nil(scope, absent))
    elif "expression" in vf:
        try:
            result = evaluate(str(vf["expression"]), _expr_vars(scope, absent))
        except WorkflowError as exc:
            result, problem = None, exc.message
        else:
            problem = f"expression {vf['expression']!r} gave nil"
        if result is not None:
            return format_value(result)
    else:
        return None
    if "default" in vf:
        return str(vf["default"])
    raise WorkflowError(f"outputs.parameters.{name}: {problem}", "declare valueFrom.default for this output")


def _parameter_problem(text: str, scope: Mapping[str, str], absent: Collection[str]) -> str | None:
    """Why ``valueFrom.parameter`` gives no value (an absent output, a tag that does not resolve)."""
    gone = [t for t in unresolved(text) if t in absent]
    if gone:
        return f"{{{{{gone[0]}}}}} is an output of a skipped or omitted child that declares no default"
    try:
        left = unresolved(render(text, _with_nil(scope, absent)))
    except WorkflowError as exc:
        return exc.message
    return f"cannot resolve {{{{{left[0]}}}}}" if left else None


def _with_nil(scope: Mapping[str, str], absent: Collection[str]) -> Mapping[str, str]:
    """``scope`` with each absent output as ``None``: expression tags see nil (``?? 'fallback'``)."""
    return cast("Mapping[str, str]", {**scope, **dict.fromkeys(absent)}) if absent else scope


def _expr_vars(scope: Mapping[str, str], absent: Collection[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = dict(scope)
    for key in list(scope):  # a task that did not run has no result: expr sees nil
        if key.endswith(".status"):
            out.setdefault(key[: -len(".status")] + ".outputs.result", None)
    out.update(dict.fromkeys(absent))  # outputs a skipped / omitted task never produced: nil
    return out


def template_kind(tmpl: Mapping[str, Any]) -> str:
    """Which of dag / steps / script / container / suspend ``tmpl`` is (``load_workflow`` checked it is
    exactly one)."""
    return next(k for k in NODE_TYPES if k in tmpl)


def _slots(value: Any) -> threading.BoundedSemaphore | None:
    if value is None:
        return None
    try:
        n = int(str(value))
    except ValueError:
        n = 0
    if n < 1:
        raise WorkflowError(f"spec.parallelism: {value!r} is not a positive integer", "set it to 1 or more")
    return threading.BoundedSemaphore(n)
