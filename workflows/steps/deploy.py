"""deploy-canary, analyze-canary, promote, rollback: thin steps over the configured deploy target.

The target (``workflows.deploy.get_target(settings)``: local serving, Kubernetes or KServe) moves
traffic *and* keeps the registry's ``canary`` / ``champion`` aliases and the canary records in step
(``records["canary_deploy"]``, ``records["canary_analysis"]``). These steps add the run record that the
exit handler reads, and one rule: the very first version of a model (no champion) has nothing to be
compared with on live traffic, so its analysis says ``promote`` at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from driftloop.errors import DriftloopError
from workflows.steps.context import update_run_record

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["analyze_canary", "deploy_canary", "promote", "rollback"]

log = logging.getLogger("driftloop.workflows")


def _target(settings: Any) -> Any:
    from workflows.deploy import get_target

    return get_target(settings)


def _record(settings: Any, model: str, workflow_name: str, **fields: Any) -> None:
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
    _record(settings, model, workflow_name, canary_deployed=version)
    return out


def analyze_canary(
    settings: Settings, *, model: str, version: str, workflow_name: str, duration_s: float
) -> dict[str, Any]:
    """The canary's verdict: ``{"decision": "promote"|"rollback", ...}`` (inconclusive counts as rollback)."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    registry = Registry(S3Store(settings))
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
        data = _target(settings).analyze(model, version, duration_s=duration_s).to_dict()
    if data.get("decision") != "promote":
        data["decision"] = "rollback"
    _record(settings, model, workflow_name, canary=data)
    return data


def promote(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """The canary becomes the champion (the target refuses without a ``promote`` analysis)."""
    out = dict(_target(settings).promote(model, version) or {})
    _record(settings, model, workflow_name, promoted=version)
    return out


def rollback(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """The canary is withdrawn; the champion stays."""
    out = dict(_target(settings).rollback(model, version) or {})
    _record(settings, model, workflow_name, rolled_back=version)
    return out
