"""The sensor's policies hold inside the compiled retrain workflow too (how they apply on a cluster, where
Argo Events' Sensor cannot run them): a second Workflow for an event that already started a run stops at its
first step, before any work. Real embedded Kafka + S3, the committed WorkflowTemplate, the local executor."""

from __future__ import annotations

import pytest

from driftloop.local.runs import run_local
from sensors.admission import admit
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_duplicate_event_stops_at_admission(settings_for, bucket, tmp_path) -> None:
    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    event_id = "evt-admission-1"
    assert admit("credit", event_id, "drift", run="retrain-credit-first", settings=settings) == "admitted"
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        # e.g. the first Workflow was garbage-collected and the event was redelivered much later
        "metadata": {"name": "retrain-credit-second"},
        "spec": {
            "workflowTemplateRef": {"name": "driftloop-retrain-credit"},
            "arguments": {
                "parameters": [
                    {"name": "model", "value": "credit"},
                    {"name": "reason", "value": "drift"},
                    {"name": "event_id", "value": event_id},
                ]
            },
        },
    }
    result = run_local(workflow, None, settings, templates_dir=REPO / "manifests")
    phases = {n.display_name: n.phase for n in result.nodes}
    assert result.phase == "Failed"
    assert phases["admit"] == "Failed"
    # no work was done: the tasks after admit never ran (Argo records them as Omitted)
    assert phases.get("validate-data") in (None, "Omitted") and phases.get("train") in (None, "Omitted")
    assert phases.get("publish-outcome") == "Succeeded"  # the exit handler still reports the outcome
    # the run the ledger names is admitted (it *is* the admitted run), idempotently
    assert admit("credit", event_id, "drift", run="retrain-credit-first", settings=settings) == "admitted"
