"""The exit handler's step: publish the run's outcome CloudEvent to ``topics.outcomes``.

``succeeded`` — the workflow Succeeded and the challenger is the new champion (or, with no canary
stage, registered); ``rejected`` — the quality gate, the canary analysis or the approval turned it down
(the champion is unchanged); ``failed`` — the workflow did not succeed. The event id is derived from the
workflow uid, so a retried exit handler publishes the same event again rather than a second one.

The exit handler also (1) rolls back a canary that this run deployed and left behind — a run that
failed or was stopped mid-analysis or while waiting for approval must not leave a challenger taking
traffic — and (2) POSTs the outcome to the model's webhooks (``notifications``; never failing the step).
Argo lifecycle hooks are not used: the exit handler runs on every outcome, and the local executor runs
it too.
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
        if isinstance(nodes, str):  # Argo Go-quotes the list (strconv.Quote in operator.go): unquote it
            nodes = json.loads(nodes)
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
    elif (record.get("approval") or {}).get("decision") == "rollback":
        kind, stage = RETRAIN_REJECTED, "approval"
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
        "canary_steps": record.get("canary_steps") or None,
        "approval": record.get("approval") or None,
        "left_canary_rolled_back": record.get("left_canary_rolled_back") or None,
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

    if status != "Succeeded":
        _roll_back_left_canary(settings, model, workflow_name)
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
    _notify_outcome(settings, model, event)
    try:  # free the model's concurrency slot taken by the admission step
        from sensors.admission import release

        release(model, workflow_name, settings)
    except DriftloopError as exc:
        log.warning("cannot release %s's concurrency slot: %s", model, exc)
    return {"id": event.id, "type": event.type, "topic": settings.topics.outcomes}


def _roll_back_left_canary(settings: Settings, model: str, workflow_name: str) -> None:
    """A run that did not succeed rolls back the canary it deployed (best effort: a failure is logged,
    and ``driftloop up``'s reconciliation catches what is left locally)."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from workflows.deploy import get_target
    from workflows.deploy.reconcile import OWNER_RECORD
    from workflows.steps.deploy import note_run

    try:
        registry = Registry(S3Store(settings))
        version = registry.get_alias(model, "canary")
        if version is None:
            return
        owner = (registry.get(model, version).records.get(OWNER_RECORD) or {}).get("workflow")
        if owner != workflow_name:
            return
        log.warning(
            "%s: run %s ends without a verdict; rolling back its canary %s", model, workflow_name, version
        )
        get_target(settings, registry=registry).rollback(model, version)
        note_run(settings, model, workflow_name, left_canary_rolled_back=version)
    except DriftloopError as exc:
        log.warning("cannot roll back %s's canary left by %s: %s", model, workflow_name, exc)


def _notify_outcome(settings: Settings, model: str, event: CloudEvent) -> None:
    from driftloop.notify import notify_model

    data = event.data
    text = f"driftloop: retrain {model} {data.get('outcome')} ({data.get('stage')})"
    if data.get("version"):
        text += f", version {data['version']}"
    if data.get("failed_step"):
        text += f" — {data['failed_step']}: {data.get('failure_reason')}"
    text += f" — run {data.get('workflow_name')}"
    notify_model(settings, model, "outcome", text, {"type": event.type, "id": event.id, **data})
