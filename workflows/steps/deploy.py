"""deploy-canary, analyze-canary, promote, rollback: registry aliases plus the configured deploy target.

The target (``workflows.deploy.get_target(settings)``: local serving, Kubernetes or KServe) moves
traffic; the registry's ``canary`` / ``champion`` aliases record which version plays which role, so the
monitors and the serving layer read the same truth.
"""

from __future__ import annotations

import logging
from typing import Any

from driftloop.errors import DriftloopError, WorkflowError
from workflows.steps.context import step_settings, update_run_record

__all__ = ["analyze_canary", "deploy_canary", "promote", "rollback"]

log = logging.getLogger("driftloop.workflows")


def _target(settings: Any) -> Any:
    try:
        from workflows.deploy import get_target
    except ImportError as exc:
        raise WorkflowError(
            f"no deploy targets available ({exc})", "install driftloop with workflows.deploy"
        ) from None
    return get_target(settings)


def _registry(settings: Any) -> Any:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    return Registry(S3Store(settings))


def _record(settings: Any, model: str, workflow_name: str, **fields: Any) -> None:
    try:
        update_run_record(settings, model, workflow_name, **fields)
    except DriftloopError as exc:
        log.warning("cannot update the run record: %s", exc)


def deploy_canary(model: str, version: str, workflow_name: str = "") -> dict[str, Any]:
    """Mark ``version`` as the canary and start sending it a share of the traffic."""
    settings = step_settings()
    _registry(settings).set_alias(model, "canary", version, reason=f"canary by {workflow_name or 'manual'}")
    _target(settings).deploy_canary(model, version)
    _record(settings, model, workflow_name, canary_deployed=version)
    return {"model": model, "version": version}


def analyze_canary(model: str, version: str, workflow_name: str = "") -> dict[str, Any]:
    """Ask the target for the canary's verdict; returns ``{"verdict": "promote"|"rollback", ...}``."""
    settings = step_settings()
    verdict = _target(settings).analyze(model, version)
    data = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(vars(verdict))
    decision = str(
        data.get("decision") or data.get("verdict") or ("promote" if data.get("passed") else "rollback")
    )
    if decision not in ("promote", "rollback"):
        raise WorkflowError(f"the deploy target returned verdict {decision!r}", "return promote or rollback")
    _registry(settings).record(model, version, "canary", data)
    _record(settings, model, workflow_name, canary={**data, "decision": decision})
    return {"verdict": decision, **data}


def promote(model: str, version: str, workflow_name: str = "") -> dict[str, Any]:
    """The canary becomes the champion."""
    settings = step_settings()
    _target(settings).promote(model, version)
    _registry(settings).promote(model, version, reason=f"promoted by {workflow_name or 'manual'}")
    _record(settings, model, workflow_name, promoted=version)
    return {"model": model, "champion": version}


def rollback(model: str, version: str, workflow_name: str = "") -> dict[str, Any]:
    """The canary is withdrawn; the champion stays."""
    settings = step_settings()
    _target(settings).rollback(model, version)
    registry = _registry(settings)
    if registry.get_alias(model, "canary") == version:
        registry.clear_alias(model, "canary", reason=f"rolled back by {workflow_name or 'manual'}")
    _record(settings, model, workflow_name, rolled_back=version)
    return {"model": model, "rolled_back": version, "champion": registry.get_alias(model, "champion") or ""}
