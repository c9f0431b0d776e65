"""The exit handler's step: publish the run's outcome CloudEvent to ``topics.outcomes``.

``succeeded`` — the workflow Succeeded and the challenger is the new champion (or, with no canary
stage, registered); ``rejected`` — the quality gate or the canary analysis turned it down (the champion is
unchanged); ``failed`` — the workflow did not succeed. The event id is derived from the workflow uid, so a
retried exit handler publishes the same event again rather than a second one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from driftloop.errors import DriftloopError
from driftloop.events import RETRAIN_FAILED, RETRAIN_REJECTED, RETRAIN_SUCCEEDED, CloudEvent, deterministic_id
from workflows.steps.context import read_run_record

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["SOURCE", "outcome_event", "parse_failures", "publish_outcome"]

log = logging.getLogger("driftloop.workflows")

SOURCE = "driftloop/workflows/retrain"


def parse_failures(failures: str, record: dict[str, Any], workflow_name: str = "") -> list[dict[str, str]]:
    """The failed steps of a run, from Argo's ``{{workflow.failures}}`` (a JSON list of failed nodes) and
    the run record's ``errors`` (the one-line reason a step wrote before it exited: Argo's node message only
    says ``Error (exit code 1)``). Each: ``{"step", "message"}``, in the order the nodes failed."""
    import json

    errors: dict[str, str] = dict(record.get("errors") or {})
    out: list[dict[str, str]] = []
    try:
        nodes = json.loads(failures) if failures and failures.strip() else []
    except json.JSONDecodeError:
        nodes = []
    nodes = [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
    # Argo lists every failed node (and names a pod for each): the DAG/Steps parents — the workflow's own
    # node, nodes failed only because a child did — are not steps
    steps = [
        n
        for n in nodes
        if n.get("displayName") != workflow_name and not str(n.get("message") or "").startswith("child '")
    ]
    for node in steps or nodes:
        step = str(node.get("displayName") or node.get("templateName") or "")
        step = step.split("(")[0]  # a retried node is "train(1)"
        if any(f["step"] == step for f in out):
            continue
        out.append({"step": step, "message": errors.get(step) or str(node.get("message") or "")})
    for step, message in errors.items():  # a step that recorded its error but is not in the list
        if not any(f["step"] == step for f in out):
            out.append({"step": step, "message": message})
    return out


def outcome_event(
    model: str,
    status: str,
    record: dict[str, Any],
    *,
    reason: str = "",
    event_id: str = "",
    workflow_name: str = "",
    workflow_uid: str = "",
    failures: str = "",
) -> CloudEvent:
    """The outcome of a run in ``status`` (Argo's ``workflow.status``) given its run record."""
    canary = record.get("canary") or {}
    if status != "Succeeded":
        kind, stage = RETRAIN_FAILED, "workflow"
    elif record.get("verdict") == "rejected":
        kind, stage = RETRAIN_REJECTED, "gate"
    elif canary.get("decision") == "rollback":
        kind, stage = RETRAIN_REJECTED, "canary"
    else:
        kind, stage = RETRAIN_SUCCEEDED, "promoted" if record.get("promoted") else "registered"
    evaluation = record.get("evaluate") or {}
    data: dict[str, Any] = {
        "model": model,
        "outcome": kind.rsplit(".", 1)[-1],
        "stage": stage,
        "workflow_status": status,
        "workflow_name": workflow_name,
        "workflow_uid": workflow_uid,
        "reason": reason,
        "trigger_event_id": event_id,
        "version": record.get("version") or "",
        "champion_version": evaluation.get("champion_version", ""),
        "gate": evaluation.get("gate"),
        "canary": canary or None,
    }
    if kind == RETRAIN_FAILED:
        failed = parse_failures(failures, record, workflow_name)
        data["failures"] = failed
        data["failed_step"] = failed[0]["step"] if failed else ""
        data["failure_reason"] = failed[0]["message"] if failed else ""
    return CloudEvent(
        id=deterministic_id("retrain-outcome", workflow_uid or workflow_name, model),
        source=SOURCE,
        type=kind,
        subject=model,
        data=data,
    )


def publish_outcome(
    settings: Settings,
    *,
    model: str,
    status: str,
    reason: str = "",
    event_id: str = "",
    workflow_name: str = "",
    workflow_uid: str = "",
    failures: str = "",
) -> dict[str, Any]:
    """Build the outcome event from the run record and publish it (keyed by model, acks=all)."""
    from driftloop.kafka import Publisher

    try:
        record = read_run_record(settings, model, workflow_name)
    except DriftloopError as exc:  # S3 down must not hide the outcome: publish what we know
        log.warning("cannot read the run record: %s", exc)
        record = {}
    event = outcome_event(
        model,
        status,
        record,
        reason=reason,
        event_id=event_id,
        workflow_name=workflow_name,
        workflow_uid=workflow_uid,
        failures=failures,
    )
    with Publisher(settings) as pub:
        pub.publish(settings.topics.outcomes, event.to_json(), key=model, wait=True)
        pub.flush()
    try:  # free the model's concurrency slot taken by the admission step
        from sensors.admission import release

        release(model, workflow_name, settings)
    except DriftloopError as exc:
        log.warning("cannot release %s's concurrency slot: %s", model, exc)
    return {"id": event.id, "type": event.type, "topic": settings.topics.outcomes}
