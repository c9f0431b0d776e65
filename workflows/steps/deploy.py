"""deploy-canary, analyze-canary, canary-step, promote, rollback: thin steps over the deploy target.

The target (``workflows.deploy.get_target(settings)``: local serving, Kubernetes or KServe) moves
traffic *and* keeps the registry's ``canary`` / ``champion`` aliases and the canary records in step
(``records["canary_deploy"]``, ``records["canary_analysis"]``). These steps add the run record that the
exit handler reads, the verdict notifications, and one rule: the very first version of a model (no
champion) has nothing to be compared with on live traffic, so its analysis says ``promote`` at once.

A stepped rollout (``deploy.steps``) is deploy-canary + analyze-canary for step 0, then one
``canary-step-<i>`` per later step (:func:`canary_step`: set the weight, analyse the step's window) —
see :mod:`workflows.retrain` for why each step is its own Argo task.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from driftloop.errors import DriftloopError, WorkflowError
from workflows.steps.context import read_run_record, update_run_record

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["analyze_canary", "canary_step", "deploy_canary", "promote", "rollback"]

log = logging.getLogger("driftloop.workflows")


def _target(settings: Any) -> Any:
    from workflows.deploy import get_target

    return get_target(settings)


def read_run_record_safe(settings: Any, model: str, workflow_name: str) -> dict[str, Any]:
    try:
        return read_run_record(settings, model, workflow_name)
    except DriftloopError as exc:
        log.warning("cannot read the run record: %s", exc)
        return {}


def note_run(settings: Any, model: str, workflow_name: str, **fields: Any) -> None:
    try:
        update_run_record(settings, model, workflow_name, **fields)
    except DriftloopError as exc:  # the record only feeds the outcome event
        log.warning("cannot update the run record: %s", exc)


def deploy_canary(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """Start sending the canary ``version`` its share of the traffic; the version records this run as the
    canary's owner (:mod:`workflows.deploy.reconcile`)."""
    import time

    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from workflows.deploy.reconcile import OWNER_RECORD

    Registry(S3Store(settings)).record(
        model, version, OWNER_RECORD, {"workflow": workflow_name, "at": time.time()}
    )
    out = dict(_target(settings).deploy_canary(model, version) or {})
    note_run(settings, model, workflow_name, canary_deployed=version)
    return out


def _notify_verdict(settings: Any, model: str, data: dict[str, Any]) -> None:
    from driftloop.notify import notify_model

    step = data.get("step")
    where = (
        f" (step {int(step) + 1}, {float(data.get('fraction') or 0):.0%} of traffic)"
        if step is not None
        else ""
    )
    reasons = "; ".join(str(r) for r in data.get("reasons") or [])
    text = (
        f"driftloop: {data.get('strategy', 'canary')} {model} {data.get('canary_version')}{where}: "
        f"{data.get('decision')} — {reasons}"
    )
    notify_model(settings, model, "verdict", text, data)


def analyze_canary(
    settings: Settings,
    *,
    model: str,
    version: str,
    workflow_name: str,
    duration_s: float,
    step: int = 0,
) -> dict[str, Any]:
    """The verdict on rollout step ``step``: ``{"decision": "promote"|"rollback", ...}`` (inconclusive
    counts as rollback), over the traffic since the step started."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from workflows.deploy.target import DEPLOY_RECORD

    registry = Registry(S3Store(settings))
    deployed = registry.get(model, version).records.get(DEPLOY_RECORD) or {}
    if registry.get_alias(model, "champion") is None:
        data: dict[str, Any] = {
            "decision": "promote",
            "model": model,
            "canary_version": version,
            "champion_version": None,
            "reasons": ["no champion yet: the first version is promoted without a live comparison"],
        }
        registry.record(model, version, "canary_analysis", data)
    else:
        if int(deployed.get("step") or 0) != step:
            raise WorkflowError(
                f"{model} {version} is at rollout step {deployed.get('step')}, not {step}",
                "the rollout was changed by someone else; start a new retrain run",
            )
        since_ms = int(deployed.get("started_ms") or 0) or None
        data = _target(settings).analyze(model, version, since_ms=since_ms, duration_s=duration_s).to_dict()
    if data.get("decision") != "promote":
        data["decision"] = "rollback"
    data.update(step=step, strategy=deployed.get("strategy", "canary"), fraction=deployed.get("fraction"))
    record = read_run_record_safe(settings, model, workflow_name)
    steps = [*(record.get("canary_steps") or []), {k: data.get(k) for k in ("step", "fraction", "decision")}]
    note_run(settings, model, workflow_name, canary=data, canary_steps=steps)
    _notify_verdict(settings, model, data)
    return data


def canary_step(
    settings: Settings,
    *,
    model: str,
    version: str,
    workflow_name: str,
    step_index: int,
    duration_s: float,
) -> dict[str, Any]:
    """A later rollout step: give ``version`` the step's share of the traffic, then analyse the step."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    step = step_index
    if Registry(S3Store(settings)).get_alias(model, "champion") is None:  # nothing to compare with
        return analyze_canary(
            settings, model=model, version=version, workflow_name=workflow_name, duration_s=0, step=step
        )
    out = _target(settings).set_step(model, version, step)
    log.info(
        "%s %s: rollout step %d at %.0f%% (%s)", model, version, step, out["fraction"] * 100, out["strategy"]
    )
    return analyze_canary(
        settings, model=model, version=version, workflow_name=workflow_name, duration_s=duration_s, step=step
    )


def promote(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """The canary becomes the champion (the target refuses without a ``promote`` analysis)."""
    out = dict(_target(settings).promote(model, version) or {})
    note_run(settings, model, workflow_name, promoted=version)
    return out


def rollback(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """The canary is withdrawn; the champion stays."""
    out = dict(_target(settings).rollback(model, version) or {})
    note_run(settings, model, workflow_name, rolled_back=version)
    return out
