"""The local executor: run compiled Argo Workflow / WorkflowTemplate YAML on this machine.

:func:`run_workflow` loads the manifest (:mod:`.model`), then walks its templates (:mod:`.engine`): DAG
(:mod:`.dag`) and steps (:mod:`.steps`) with fan-out (:mod:`.fanout`), parallel branches on threads
(:mod:`.task`), ``when`` (:mod:`.expr`), ``{{...}}`` substitution (:mod:`.template`), retries
(:mod:`.retry`), mutexes (:mod:`.sync`), S3 artifacts with Argo's keys (:mod:`.artifacts`), one host
process per pod (:mod:`.runner`). Each run is recorded under ``<data_dir>/runs/<workflow-name>/``
(:mod:`.record`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from driftloop.errors import UsageError, WorkflowError
from driftloop.local.executor import cancel, isolation, sync
from driftloop.local.executor.artifacts import ArtifactStore
from driftloop.local.executor.cancel import CANCEL, cancel_all, closing, is_closing, request_cancel, wait_idle
from driftloop.local.executor.engine import Run
from driftloop.local.executor.expr import evaluate_govaluate
from driftloop.local.executor.hooks import HookRunner, exit_hook, named_hooks, run_hook
from driftloop.local.executor.model import find_template, load_workflow
from driftloop.local.executor.record import (
    SECRETS_COPY,
    check_name,
    is_live,
    list_runs,
    load_run,
    process_start,
    run_dir,
    save_run,
    sweep,
)
from driftloop.local.executor.result import (
    NodeResult,
    WorkflowResult,
    failures_value,
    tree_order,
    workflow_failures,
)
from driftloop.local.executor.retry import parse_duration
from driftloop.local.executor.suspend import RESUME, STOP
from driftloop.local.executor.suspend import request as request_suspended
from driftloop.local.executor.template import render

#: The door: what code outside the executor may use; ``tests/unit/test_import_graph.py`` keeps it the only
#: way in (no module outside the executor imports one of its submodules).
__all__ = [
    "RESUME",
    "STOP",
    "ArtifactStore",
    "NodeResult",
    "WorkflowResult",
    "cancel_all",
    "closing",
    "evaluate_govaluate",
    "find_template",
    "is_closing",
    "is_live",
    "list_runs",
    "load_run",
    "load_workflow",
    "request_cancel",
    "request_suspended",
    "run_dir",
    "run_workflow",
    "sweep",
    "wait_idle",
]

logger = logging.getLogger("driftloop.local.executor")


class _Settings(Protocol):
    data_dir: Any


def _name(meta: Mapping[str, Any]) -> str:
    if meta.get("name"):
        return check_name(str(meta["name"]))
    alphabet = string.ascii_lowercase + string.digits
    prefix = str(meta.get("generateName") or "workflow-")
    return check_name(prefix + "".join(secrets.choice(alphabet) for _ in range(5)), "metadata.generateName")


def _workflow_parameters(spec: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    declared = {str(p["name"]): p for p in (spec.get("arguments") or {}).get("parameters") or []}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(
            f"unknown workflow parameter {unknown[0]!r}",
            f"the workflow declares: {', '.join(declared) or 'no parameters'}",
        )
    values: dict[str, str] = {}
    for pname, p in declared.items():
        if pname in given:
            value = str(given[pname])
        elif "value" in p:
            value = str(p["value"])
        elif "default" in p:
            value = str(p["default"])
        else:
            raise UsageError(f"workflow parameter {pname!r} has no value", f"pass -p {pname}=...")
        if p.get("enum") and value not in [str(e) for e in p["enum"]]:
            raise UsageError(
                f"workflow parameter {pname}={value!r} is not one of {p['enum']}",
                "pass one of the allowed values",
            )
        values[pname] = value
    return values


def _no_store() -> ArtifactStore:
    raise WorkflowError(
        "this workflow uses S3 artifacts but no artifact store was given",
        "run it with driftloop (`driftloop workflow run`), which gives the configured S3",
    )


def _host_paths(data_dir: Path, parameters: Mapping[str, str]) -> list[Path]:
    """The local paths a run's workflow parameters name (a monitor's local ``current`` window), and its
    data directory: its pods read them, read-only, at their own path (:mod:`.isolation`) — even under
    ``/tmp``, which is a pod's own."""
    found = [data_dir.resolve()]
    for value in parameters.values():
        if value.startswith("/") and os.path.exists(value[:4096]):
            found.append(Path(value))
    return found


def run_workflow(
    doc_or_path: Mapping[str, Any] | str | Path,
    parameters: Mapping[str, str] | None,
    settings: _Settings,
    *,
    templates_dir: Path | str | None = None,
    on_event: Callable[[NodeResult], None] | None = None,
    artifact_store: ArtifactStore | None = None,
    store_factory: Callable[[], ArtifactStore] | None = None,
    pod_env: Callable[[Path], Mapping[str, str]] | None = None,
    host_paths: Sequence[Path] = (),
    uid: str | None = None,
) -> WorkflowResult:
    """Run a Workflow / WorkflowTemplate (a dict or a YAML path) to completion on this machine.

    Args:
        doc_or_path: the manifest, parsed or as a file path.
        parameters: workflow parameters (``-p key=value``); undeclared names are a UsageError.
        settings: resolved settings; ``settings.data_dir`` holds run records and mutex locks.
        templates_dir: where ``workflowTemplateRef`` names are looked up (e.g. ``manifests/``).
        on_event: called with a node each time its phase changes (for progress output).
        artifact_store: object storage for S3 artifacts, or ``store_factory`` to make it on first use; with
            neither, a step with an S3 artifact is an Error.
        pod_env: called once, before the first pod, with the path of a private file in the run's directory
            (removed when the run ends); returns variables for every pod (``driftloop.local.runs`` writes
            the run's settings there).
        host_paths: more host paths the pods read at their own path (a model's ``code_dir``, a dataset).
        uid: the run's ``workflow.uid``; a run resumed after a crash passes its first uid, so it keeps its
            identity (its own admission ledger entry admits it again). Default: a new one.

    Returns:
        The :class:`WorkflowResult`; a failed step gives ``phase == "Failed"``, not an exception.
    """
    wf = load_workflow(doc_or_path, Path(templates_dir) if templates_dir else None)
    spec, meta = wf["spec"], wf.get("metadata") or {}
    isolation.check(spec)
    values = _workflow_parameters(spec, dict(parameters or {}))
    name, uid = _name(meta), uid or str(uuid.uuid4())
    data_dir = Path(settings.data_dir)
    rdir = run_dir(data_dir, name)
    logs = rdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (rdir / CANCEL).unlink(missing_ok=True)  # a request meant for an earlier run of this name
    sandbox = Path(tempfile.mkdtemp(prefix=f"driftloop-{name}-"))
    store = (lambda: artifact_store) if artifact_store is not None else (store_factory or _no_store)
    run = Run(wf, name, uid, sandbox, logs, data_dir / "locks", store, on_event, logger.info)
    run.exit_args = {"parameters": [{"name": k, "value": v} for k, v in values.items()]}
    run.memo_dir = data_dir / "memoize"
    run.host_paths.extend([*_host_paths(data_dir, values), *host_paths])
    if pod_env is not None:
        run.pod_env.update(pod_env(rdir / SECRETS_COPY))
    started = time.time()
    run.started_at = started
    run.globals.update(
        {
            "workflow.name": name,
            "workflow.uid": uid,
            "workflow.namespace": "default",
            "workflow.mainEntrypoint": str(spec["entrypoint"]),
            "workflow.creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "workflow.status": "Running",  # Argo's setGlobalRuntimeParameters: the phase, at every pass
            "workflow.parameters": json.dumps([{"name": k, "value": v} for k, v in values.items()]),
            "workflow.parameters.json": json.dumps([{"name": k, "value": v} for k, v in values.items()]),
        }
    )
    run.globals.update({f"workflow.parameters.{k}": v for k, v in values.items()})
    for kind in ("labels", "annotations"):
        run.globals.update({f"workflow.{kind}.{k}": str(v) for k, v in (meta.get(kind) or {}).items()})
    result = WorkflowResult(
        name=name,
        uid=uid,
        phase="Running",
        nodes=run.nodes,
        started=started,
        parameters=values,
        owner_pid=os.getpid(),
        owner_start=process_start(os.getpid()),
        sandbox=str(sandbox),
    )
    save_run(data_dir, result)  # a Running record names its owner: a run whose owner died is not live
    run.checkpoint = lambda: save_run(data_dir, result)
    restore = _signals_cancel(run)
    cancel.register(run)
    try:
        mutexes = [
            render(m, run.globals)
            for m in sync.mutex_names(spec.get("synchronization"), "spec.synchronization")
        ]
        with sync.hold_mutexes(data_dir / "locks", mutexes, lambda m: logger.info("waiting for mutex %s", m)):
            _run_main(run, spec, values, result)
    except KeyboardInterrupt as exc:
        # Ctrl-C, SIGTERM, `driftloop runs cancel`, `up` stopping: the run ends Failed and its exit handler
        # still runs (outcome event, concurrency slot released), as Argo runs onExit after a stop.
        _interrupted(run, spec, result)
        if not isinstance(exc, cancel.RunCancelled) or threading.current_thread() is threading.main_thread():
            raise
    except Exception as exc:  # the run aborted (e.g. S3 unreachable): Error, exit handler, never Running
        _interrupted(run, spec, result, phase="Error", message=str(exc))
        raise
    finally:
        restore()
        cancel.unregister(run)
        shutil.rmtree(sandbox, ignore_errors=True)
        (rdir / SECRETS_COPY).unlink(missing_ok=True)
        (rdir / CANCEL).unlink(missing_ok=True)
        run.nodes[:] = tree_order(run.nodes)
        result.finished = time.time()
        result.sandbox = None
        result.record_path = str(save_run(data_dir, result))
    return result


def _signals_cancel(run: Run) -> Callable[[], None]:
    """In the main thread: SIGTERM (a container stop) and Ctrl-C cancel the run — steps running on other
    threads too — and raise KeyboardInterrupt here, so it stops like on Ctrl-C, exit handler included.
    Returns the function that restores the old handlers. (Elsewhere, e.g. in ``driftloop up``, the
    process's owner cancels its runs: :func:`.cancel.cancel_all`.)"""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        run.request_cancel()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _interrupted(
    run: Run,
    spec: Mapping[str, Any],
    result: WorkflowResult,
    phase: str = "Failed",
    message: str = "interrupted",
) -> None:
    """End a run that stopped early: no node stays Running or Pending, the exit handler runs."""
    run.exiting()
    now = time.time()
    for node in run.nodes:
        if node.phase in ("Running", "Pending"):
            node.phase, node.message = phase, message
            node.finished = node.finished or now
    logger.info("%s %s: running the exit handler", run.name, message)
    try:
        _finish(run, spec, result, phase, message)
    except KeyboardInterrupt:  # a second Ctrl-C: stop now
        result.phase, result.message = phase, f"{message} (exit handler interrupted)"
    except Exception as exc:  # the exit handler cannot run either (e.g. the same outage)
        logger.warning("%s: the exit handler could not run: %s", run.name, exc)
        result.phase, result.message = phase, message


def _run_main(run: Run, spec: Mapping[str, Any], values: Mapping[str, str], result: WorkflowResult) -> None:
    if spec.get("activeDeadlineSeconds") is not None:
        run.deadline = time.monotonic() + parse_duration(
            spec["activeDeadlineSeconds"], "spec.activeDeadlineSeconds"
        )
    run.hooks = HookRunner(run, named_hooks(spec), run.name, run.name)
    run.hooks.check(
        {**run.global_scope(), "workflow.status": "Running"}, run.global_artifacts, background=True
    )
    # spec.arguments.artifacts are the entrypoint's input artifacts (Argo's executeTemplate(entrypoint, ...))
    given = {str(a["name"]): a for a in (spec.get("arguments") or {}).get("artifacts") or []}
    main = run.run_template(str(spec["entrypoint"]), run.name, run.name, values, given)
    phase = main.phase if main.phase in ("Failed", "Error") else "Succeeded"
    message = main.message
    if run.deadline is not None and time.monotonic() >= run.deadline and phase != "Succeeded":
        phase, message = "Failed", "Max duration limit exceeded"
    _finish(run, spec, result, phase, message)


def _finish(run: Run, spec: Mapping[str, Any], result: WorkflowResult, phase: str, message: str) -> None:
    """Set the workflow globals of a finished run, run the exit handler, and settle the phase."""
    now = time.time()
    for node in run.nodes:  # a finished run has no node left Running or Pending (e.g. a step group
        if node.phase in ("Running", "Pending"):  # whose template errored while scheduling it)
            node.phase = "Error" if phase == "Succeeded" else phase
            node.message = node.message or message or "the template stopped before this node finished"
            node.finished = node.finished or now
    run.deadline = None  # the exit handler runs after a deadline, as on Argo
    run.nodes[:] = tree_order(run.nodes)  # workflow.failures in a deterministic order
    failures = workflow_failures(run.name, run.nodes)
    run.globals.update(
        {
            "workflow.status": phase,
            "workflow.failures": failures_value(failures),
            "workflow.duration": f"{time.time() - (result.started or 0):.6f}",  # Go's %f
        }
    )
    _workflow_hooks(run, phase)
    hook = exit_hook(spec, run.exit_args)
    if hook is not None:
        exit_node = run_hook(
            run, hook, f"{run.name}.onExit", f"{run.name}.onExit", run.global_scope(), run.global_artifacts
        )
        if exit_node.phase in ("Failed", "Error") and phase == "Succeeded":
            phase, message = exit_node.phase, f"exit handler failed: {exit_node.message}"
    result.phase, result.message = phase, message


def _workflow_hooks(run: Run, phase: str) -> None:
    """The workflow's named hooks whose expression holds now that it ended (those that held while it ran
    have run already); the exit handler runs after them all, as on Argo. Their nodes are the root's
    children (``<workflow>.hooks.<name>``)."""
    if run.hooks is None:
        return
    run.hooks.check({**run.global_scope(), "workflow.status": phase}, run.global_artifacts, background=False)
    extra = run.hooks.join()
    roots = [n for n in run.nodes if n.name == run.name]
    if roots:
        roots[0].children.extend(n.name for n in extra)
