"""The exit handler's outcome event: succeeded | failed | rejected from workflow.status and the run record."""

from __future__ import annotations

from driftloop.events import RETRAIN_FAILED, RETRAIN_REJECTED, RETRAIN_SUCCEEDED
from workflows.steps.outcome import outcome_event

GATE = {"verdict": "passed", "reason": "ok", "challenger": 0.8, "champion": 0.79}


def test_succeeded_after_promotion():
    record = {
        "verdict": "passed",
        "version": "v2",
        "evaluate": {"gate": GATE, "champion_version": "v1"},
        "canary": {"decision": "promote"},
        "promoted": "v2",
    }
    ev = outcome_event(
        "credit", "Succeeded", record, reason="drift", event_id="e1", workflow_name="wf", workflow_uid="u1"
    )
    assert ev.type == RETRAIN_SUCCEEDED and ev.subject == "credit"
    assert (
        ev.data["stage"] == "promoted" and ev.data["version"] == "v2" and ev.data["trigger_event_id"] == "e1"
    )


def test_gate_rejection_and_canary_rollback_are_rejected():
    ev = outcome_event(
        "credit", "Succeeded", {"verdict": "rejected", "evaluate": {"gate": {**GATE, "verdict": "rejected"}}}
    )
    assert ev.type == RETRAIN_REJECTED and ev.data["stage"] == "gate"
    ev = outcome_event(
        "credit", "Succeeded", {"verdict": "passed", "version": "v3", "canary": {"decision": "rollback"}}
    )
    assert ev.type == RETRAIN_REJECTED and ev.data["stage"] == "canary"


def test_failed_whatever_the_record_says():
    ev = outcome_event("credit", "Failed", {"verdict": "passed"}, workflow_uid="u9")
    assert ev.type == RETRAIN_FAILED and ev.data["workflow_status"] == "Failed"
    assert outcome_event("credit", "Error", {}).type == RETRAIN_FAILED


def test_event_id_is_stable_per_run():
    a = outcome_event("credit", "Failed", {}, workflow_uid="u1")
    b = outcome_event("credit", "Succeeded", {"verdict": "passed"}, workflow_uid="u1")
    c = outcome_event("credit", "Failed", {}, workflow_uid="u2")
    assert a.id == b.id != c.id


def test_failed_run_names_the_failed_step_and_its_reason():
    """workflow.failures (Argo's JSON list of failed nodes) + the reason the step recorded."""
    failures = (
        '[{"displayName": "train", "message": "Error (exit code 1)", "templateName": "train",'
        ' "phase": "Failed", "podName": "wf-train-1", "finishedAt": "2026-01-01T00:00:00Z"}]'
    )
    record = {"errors": {"train": "the trainer raised ValueError: boom"}}
    ev = outcome_event("credit", "Failed", record, failures=failures, workflow_uid="u1")
    assert ev.data["failed_step"] == "train"
    assert ev.data["failure_reason"] == "the trainer raised ValueError: boom"
    assert ev.data["failures"] == [{"step": "train", "message": "the trainer raised ValueError: boom"}]
    # without a recorded reason Argo's node message stands; garbage in failures is not fatal
    ev = outcome_event("credit", "Failed", {}, failures=failures)
    assert ev.data["failures"] == [{"step": "train", "message": "Error (exit code 1)"}]
    assert outcome_event("credit", "Failed", {}, failures="not json").data["failures"] == []


def test_failures_in_argos_go_quoted_form_are_read():
    """Argo substitutes strconv.Quote(json) for {{workflow.failures}} (operator.go): the local executor
    gives exactly that text, and the outcome step reads it."""
    from driftloop.local.executor.result import failures_value

    quoted = failures_value(
        [{"displayName": "train", "message": "Error (exit code 1)", "templateName": "train"}]
    )
    assert quoted.startswith('"[{\\"displayName\\":\\"train\\"')
    ev = outcome_event("credit", "Failed", {}, failures=quoted)
    assert ev.data["failures"] == [{"step": "train", "message": "Error (exit code 1)"}]
    assert outcome_event("credit", "Succeeded", {}, failures=failures_value([])).data.get("failures") in (
        None,
        [],
    )


def test_exit_handler_passes_workflow_failures():
    from driftloop.config import load_settings
    from workflows.retrain import build_retrain

    wt = build_retrain(load_settings(env={}), "credit").to_dict()
    handler = next(t for t in wt["spec"]["templates"] if t["name"] == "exit-handler")
    args = {p["name"]: p["value"] for p in handler["dag"]["tasks"][0]["arguments"]["parameters"]}
    assert args["failures"] == "{{workflow.failures}}"


def test_the_failed_step_is_the_pod_not_its_parents():
    """Argo lists every failed node, the DAG root and retry parents too: the step is the pod."""
    failures = (
        '[{"displayName": "wf", "message": "child failed", "templateName": "retrain", "podName": ""},'
        ' {"displayName": "train", "message": "No more retries left", "templateName": "train",'
        ' "podName": ""},'
        ' {"displayName": "train(0)", "message": "Error (exit code 1)", "templateName": "train",'
        ' "podName": "wf-train-1"}]'
    )
    record = {"errors": {"train": "the trainer raised"}}
    ev = outcome_event("credit", "Failed", record, failures=failures, workflow_name="wf")
    assert ev.data["failed_step"] == "train" and ev.data["failure_reason"] == "the trainer raised"
