"""The compiled EventBus / EventSource / Sensor: schema-valid, complete, no secret values, and the
local sensor evaluating the compiled YAML gives the contract's Workflow."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from driftloop.config import load_settings
from driftloop.localsensor.spec import SensorSpec
from sensors.manifests import SENSOR_FILE, build_sensor, render_sensor_manifests
from sensors.rule import TriggerRule
from tests.conftest import REPO, SHARED

SECRETS = {
    "kafka.security_protocol": "SASL_SSL",
    "kafka.sasl_mechanism": "SCRAM-SHA-512",
    "kafka.sasl_username": "svc-user",
    "kafka.sasl_password": "hunter2-secret",
    "kafka.ssl_cafile": "/etc/ca.pem",
}


def write(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        paths.append(p)
    return paths


def test_rendered_yaml_validates_strictly(tmp_path: Path) -> None:
    plain = render_sensor_manifests(load_settings(env={}))
    secure = render_sensor_manifests(
        load_settings(env={}, overrides=SECRETS), TriggerRule(min_drift_share=0.3)
    )
    paths = write(tmp_path / "a", plain) + write(tmp_path / "b", secure)
    proc = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "validate_manifests.py"), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 documents valid" in proc.stdout


def test_secrets_are_references_never_values() -> None:
    text = "".join(render_sensor_manifests(load_settings(env={}, overrides=SECRETS)).values())
    assert "hunter2-secret" not in text and "svc-user" not in text and "/etc/ca.pem" not in text
    source = yaml.safe_load(
        render_sensor_manifests(load_settings(env={}, overrides=SECRETS))[
            "base/generated/sensors/eventsource.yaml"
        ]
    )
    entry = source["spec"]["kafka"]["drift-events"]
    assert entry["sasl"]["passwordSecret"] == {"name": "driftloop-kafka", "key": "password"}
    assert entry["tls"]["caCertSecret"] == {"name": "driftloop-kafka-tls", "key": "ca.crt"}
    assert entry["jsonBody"] is True and entry["consumerGroup"]["groupName"] == "driftloop-sensor"


def test_trigger_carries_the_whole_workflow() -> None:
    """Regression: Hera's K8SResource drops a dict resource; the rendered trigger must not."""
    sensor = build_sensor(load_settings(env={}))
    trig = sensor["spec"]["triggers"][0]
    wf = trig["template"]["argoWorkflow"]["source"]["resource"]
    assert wf["kind"] == "Workflow" and wf["spec"]["workflowTemplateRef"] == {"name": "driftloop-retrain"}
    assert [p["name"] for p in wf["spec"]["arguments"]["parameters"]] == [
        "model",
        "reason",
        "event_id",
        "report_uri",
    ]
    assert trig["atLeastOnce"] is True and trig["retryStrategy"]["steps"] == 3
    assert trig["rateLimit"] == {"requestsPerUnit": 30, "unit": "Minute"}
    assert trig["dlqTrigger"]["template"]["kafka"]["topic"] == "driftloop.dead-letters"


def test_compiled_sensor_in_manifests_gives_the_contract_workflow() -> None:
    """The committed manifests/ Sensor, evaluated by the local sensor (also a golden check)."""
    path = REPO / "manifests" / SENSOR_FILE
    settings = load_settings(env={})
    assert path.read_text() == render_sensor_manifests(settings)[SENSOR_FILE], "run `driftloop compile`"
    spec = SensorSpec(yaml.safe_load(path.read_text()), str(path))
    body = json.loads((Path(__file__).parent / "sensor_cases" / "drift_event.json").read_text())
    decision = spec.evaluate({"body": body})
    assert decision.triggered
    digest = hashlib.sha256(body["id"].encode()).hexdigest()[:10]
    assert decision.workflow_name == f"retrain-credit-{digest}"
    assert decision.workflow_parameters() == {
        "model": "credit",
        "reason": "drift",
        "event_id": body["id"],
        "report_uri": body["data"]["report_uri"],
    }
    assert decision.workflow["spec"]["workflowTemplateRef"]["name"] == "driftloop-retrain"


def test_filtered_out_by_compiled_filters() -> None:
    spec = SensorSpec(build_sensor(load_settings(env={}), TriggerRule(min_drift_share=0.7)))
    body = json.loads((Path(__file__).parent / "sensor_cases" / "drift_event.json").read_text())
    assert not spec.evaluate({"body": body}).triggered  # share 0.6 < 0.7
    body["data"]["model"] = "credit-v2"
    assert not SensorSpec(build_sensor(load_settings(env={}))).evaluate({"body": body}).triggered
