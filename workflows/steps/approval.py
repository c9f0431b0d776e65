"""Manual approval before promote: request-approval → wait-approval (an Argo ``suspend``) → check-approval.

Why the decision is a registry record and not the suspend node's outcome: when a ``suspend`` with a
``duration`` expires, Argo *succeeds* the node, exactly as a resume does, and output parameters supplied
on resume are unreliable after an expiry (argoproj/argo-workflows#8037, #12230, #14911). So:

* ``request-approval`` writes ``approval_request`` on the challenger version (the run, the deadline) and
  sends the ``approval`` notification;
* ``driftloop approve|reject MODEL`` (:func:`decide`) writes ``approval`` on the version — the decision,
  who, when, for which run — and resumes the run's suspended node;
* ``check-approval`` (:func:`check_approval`) decides: a recorded decision for this run made before the
  deadline wins; otherwise a run resumed *before* the deadline was resumed by a person (Argo UI
  "Resume", ``argo resume``, ``driftloop workflow resume``) and counts as approved; otherwise the wait
  expired — **rejected**. A decision recorded after the deadline is ignored.

Rejected (or timed out) leads to the ``rollback-rejected`` task, as a canary rollback does. Stopping the
run instead (Argo UI "Stop", ``argo stop``) fails it; its exit handler then rolls the canary back.
"""

from __future__ import annotations

import getpass
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from driftloop.contracts import APPROVAL_RECORD, CANARY_OWNER_RECORD
from driftloop.errors import UsageError

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry

__all__ = ["DECISION_RECORD", "REQUEST_RECORD", "WAIT_NODE", "check_approval", "decide", "request_approval"]

log = logging.getLogger("driftloop.workflows")

REQUEST_RECORD = "approval_request"
DECISION_RECORD = APPROVAL_RECORD
#: The suspend task's name: `driftloop approve` resumes it (``displayName=wait-approval`` on Argo).
WAIT_NODE = "wait-approval"


def _registry(settings: Settings) -> Registry:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    return Registry(S3Store(settings))


def _now_ms() -> int:
    return int(time.time() * 1000)


def request_approval(
    settings: Settings, *, model: str, version: str, workflow_name: str, timeout_s: float
) -> dict[str, Any]:
    """Record that ``workflow_name`` waits for a decision on ``version`` until the deadline; notify."""
    from driftloop.notify import notify_model
    from workflows.steps.deploy import note_run

    now = _now_ms()
    request = {
        "workflow": workflow_name,
        "requested_ms": now,
        "deadline_ms": now + int(float(timeout_s) * 1000),
        "timeout_s": float(timeout_s),
    }
    _registry(settings).record(model, version, REQUEST_RECORD, request)
    note_run(settings, model, workflow_name, approval={"state": "waiting", **request})
    hours = float(timeout_s) / 3600
    text = (
        f"driftloop: {model} {version} passed its canary analysis and waits for approval (run "
        f"{workflow_name}). Approve: `driftloop approve {model}` or Resume {WAIT_NODE} in the Argo UI; "
        f"reject: `driftloop reject {model}`. No decision within {hours:.3g} h rejects it."
    )
    notify_model(settings, model, "approval", text, {"model": model, "version": version, **request})
    return request


def check_approval(settings: Settings, *, model: str, version: str, workflow_name: str) -> dict[str, Any]:
    """The approval's outcome: ``{"decision": "promote"|"rollback", "approval": approved|rejected|
    timeout, "by", "reason"}``; recorded on the version, in the run record, and notified."""
    from driftloop.notify import notify_model
    from workflows.steps.deploy import note_run

    registry = _registry(settings)
    records = registry.get(model, version).records
    request = records.get(REQUEST_RECORD) or {}
    deadline = int(request.get("deadline_ms") or 0)
    recorded = records.get(DECISION_RECORD) or {}
    now = _now_ms()
    mine = (
        recorded.get("workflow") == workflow_name
        and recorded.get("stage") != "canary"  # a decision on the canary window is not the approval
        and int(recorded.get("at_ms") or 0) <= deadline
    )
    if mine and recorded.get("decision") in ("approve", "reject"):
        approval = "approved" if recorded["decision"] == "approve" else "rejected"
        by, reason = str(recorded.get("by") or ""), str(recorded.get("reason") or "")
    elif request.get("workflow") == workflow_name and now < deadline:
        approval, by, reason = "approved", "", "resumed before the deadline without a recorded decision"
    else:
        approval, by, reason = "timeout", "", "no decision before the deadline"
    out = {
        "decision": "promote" if approval == "approved" else "rollback",
        "approval": approval,
        "by": by,
        "reason": reason,
        "workflow": workflow_name,
        "at_ms": now,
    }
    if not mine:  # keep what was decided, and how, next to the request
        registry.record(
            model,
            version,
            DECISION_RECORD,
            {**out, "decision": "approve" if approval == "approved" else "reject", "via": approval},
        )
    note_run(settings, model, workflow_name, approval={"state": approval, **out})
    log.info("%s %s: approval %s (%s)", model, version, approval, reason or by)
    text = (
        f"driftloop: {model} {version} {approval}"
        + (f" by {by}" if by else "")
        + (f" — {reason}" if reason else "")
    )
    notify_model(settings, model, "approval", text, {"model": model, "version": version, **out})
    return out


def decide(
    settings: Settings,
    model: str,
    decision: Literal["approve", "reject"],
    *,
    by: str = "",
    reason: str = "",
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Record ``decision`` on ``model``'s canary: for the run that waits for its approval (``stage:
    approval``; the caller resumes that run, :mod:`driftloop.cli.approval`), or else for the run whose
    canary analysis is watching it (``stage: canary``; the analysis reads it at its next look and
    promotes or rolls back — how a canary that gets no traffic is decided without waiting out its
    window). Returns ``{"workflow", "version", "stage", ...}``."""
    registry = registry or _registry(settings)
    version = registry.get_alias(model, "canary")
    records = registry.get(model, version).records if version else {}
    request = records.get(REQUEST_RECORD) or {}
    owner = records.get(CANARY_OWNER_RECORD) or {}
    if not version or not (request or owner.get("workflow")):
        raise UsageError(
            f"no run of {model} has a canary waiting for a decision",
            "`driftloop runs list` / the Argo UI show the runs; a decision applies while a run analyses its "
            "canary or waits for approval (`approval: required`)",
        )
    stage = "approval" if request else "canary"
    workflow = str(request["workflow"] if request else owner["workflow"])
    done = records.get(DECISION_RECORD) or {}
    if done.get("workflow") == workflow and (done.get("stage") or "approval") == stage:
        raise UsageError(
            f"{model} {version} (run {workflow}) was already {done.get('via') or done.get('decision')}",
            "a decision is final; start a new retrain run to try again",
        )
    now = _now_ms()
    if request and now > int(request.get("deadline_ms") or 0):
        raise UsageError(
            f"the approval of {model} {version} (run {workflow}) timed out", "it is rejected; retrain again"
        )
    record = {
        "decision": decision,
        "by": by or getpass.getuser(),
        "reason": reason,
        "workflow": workflow,
        "at_ms": now,
        "via": "approved" if decision == "approve" else "rejected",
        "stage": stage,
    }
    registry.record(model, version, DECISION_RECORD, record)
    return {"model": model, "version": version, **record}
