"""The compiled EventBus / EventSource / Sensor: schema-valid, complete, no secret values, restricted
pods, a create-only trigger, the monitored models from the settings, and the local sensor evaluating the
compiled YAML gives the contract's Workflow."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftloop.config import load_settings
from driftloop.errors import ConfigError
from driftloop.local.sensor.spec import SensorSpec
from driftloop.validation import validate_paths
from sensors.manifests import SENSOR_FILE, build_event_source, build_sensor, render_sensor_manifests
from sensors.rule import TriggerRule
from tests.conftest import REPO, SHARED
from tests.policy import check

CASE = Path(__file__).parent / "sensor_cases" / "drift_event.json"
POD_RULES = {
    "runAsNonRoot",
    "seccomp",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "privileged",
    "capabilities",
    "resources",
    "secret-value",
}

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
    report = validate_paths(paths)
    assert report.ok, "\n".join(report.errors)
    assert report.documents == 6 and report.checked == {"EventSource": 2, "Sensor": 2}
    assert set(report.skipped) == {"EventBus"}  # Hera ships no EventBus model: not checked here
    validator = SHARED / "tools" / "validate_manifests.py"
    if validator.is_file():  # extra check (covers the EventBus too): the official JSON schemas in ../shared
        proc = subprocess.run(
            [sys.executable, str(validator), *map(str, paths)],
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
    wf = trig["template"]["k8s"]["source"]["resource"]
    assert wf["kind"] == "Workflow"
    # one retrain template per model: the trigger names the event's model's template
    dests = {p["dest"]: p["src"] for p in trig["template"]["k8s"]["parameters"]}
    assert (
        dests["spec.workflowTemplateRef.name"]["dataTemplate"]
        == "driftloop-retrain-{{ .Input.body.data.model }}"
    )
    assert dests["metadata.labels.driftloop\\.io/model"]["dataKey"] == "body.data.model"
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
    assert decision.workflow["spec"]["workflowTemplateRef"]["name"] == "driftloop-retrain-credit"


def test_filtered_out_by_compiled_filters() -> None:
    spec = SensorSpec(build_sensor(load_settings(env={}), TriggerRule(min_drift_share=0.7)))
    body = json.loads((Path(__file__).parent / "sensor_cases" / "drift_event.json").read_text())
    assert not spec.evaluate({"body": body}).triggered  # share 0.6 < 0.7
    body["data"]["model"] = "credit-v2"
    assert not SensorSpec(build_sensor(load_settings(env={}))).evaluate({"body": body}).triggered


def test_sensor_runs_as_the_create_only_account_with_a_k8s_create() -> None:
    """The account bound to the create-only Role; a k8s trigger (no `argo submit`, no read-back)."""
    spec = build_sensor(load_settings(env={}))["spec"]
    assert spec["template"]["serviceAccountName"] == "driftloop-sensor"
    rbac = list(yaml.safe_load_all((REPO / "manifests" / "base" / "rbac-sensor.yaml").read_text()))
    role = next(d for d in rbac if d["kind"] == "Role")
    assert role["metadata"]["name"] == "driftloop-sensor"
    assert role["rules"] == [{"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": ["create"]}]
    (trig,) = spec["triggers"]
    assert "argoWorkflow" not in trig["template"] and "policy" not in trig
    k8s = trig["template"]["k8s"]
    assert k8s["operation"] == "create" and "liveObject" not in k8s
    # Argo Events v1.x derives group/version/resource from the object: argoproj.io/v1alpha1 workflows.
    assert (k8s["source"]["resource"]["apiVersion"], k8s["source"]["resource"]["kind"]) == (
        "argoproj.io/v1alpha1",
        "Workflow",
    )
    assert trig["dlqTrigger"]["atLeastOnce"] is True


def test_event_pods_are_restricted() -> None:
    docs = [yaml.safe_load(t) for t in render_sensor_manifests(load_settings(env={})).values()]
    found = [v for v in check(docs) if v.rule in POD_RULES]
    assert not found, "\n".join(map(str, found))
    by_kind = {d["kind"]: d for d in docs}
    for kind in ("Sensor", "EventSource"):
        pod = by_kind[kind]["spec"]["template"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    js = by_kind["EventBus"]["spec"]["jetstream"]
    assert js["securityContext"]["fsGroup"] == 10001
    for key in ("containerTemplate", "reloaderContainerTemplate", "metricsContainerTemplate"):
        assert js[key]["securityContext"]["readOnlyRootFilesystem"] is True
        assert js[key]["resources"]["limits"]["memory"]


def test_policy_check_sees_an_unrestricted_event_pod() -> None:
    """The assertion above can fail: drop a field and the policy reports it."""
    sensor = build_sensor(load_settings(env={}))
    del sensor["spec"]["template"]["container"]["securityContext"]["readOnlyRootFilesystem"]
    assert {v.rule for v in check([sensor])} & POD_RULES == {"readOnlyRootFilesystem"}


def test_monitored_models_come_from_settings() -> None:
    settings = load_settings(env={}, overrides={"models": "credit,demand"})
    sensor = yaml.safe_load(render_sensor_manifests(settings)[SENSOR_FILE])
    model_filter = next(
        f for f in sensor["spec"]["dependencies"][0]["filters"]["data"] if f["path"] == "body.data.model"
    )
    assert model_filter["value"] == ["^credit$", "^demand$"]
    spec = SensorSpec(sensor)
    body = json.loads(CASE.read_text())
    for model, triggered in (("demand", True), ("credit", True), ("iris", False), ("demand-v2", False)):
        body["data"]["model"] = model
        assert spec.evaluate({"body": body}).triggered is triggered, model
    # A rule that names its models keeps them; an empty monitored set is a configuration error.
    explicit = build_sensor(settings, TriggerRule(models=("iris",)))
    assert explicit["spec"]["dependencies"][0]["filters"]["data"][-1]["value"] == ["^iris$"]
    with pytest.raises(ConfigError, match=r"settings\.models is empty"):
        render_sensor_manifests(load_settings(env={}, overrides={"models": []}))


def _with_trigger(kind: str, operation: str) -> dict:
    sensor = build_sensor(load_settings(env={}))
    template = sensor["spec"]["triggers"][0]["template"]
    body = template.pop("k8s")
    template[kind] = {**body, "operation": operation}
    return sensor


def test_local_sensor_accepts_a_hand_written_argo_workflow_trigger() -> None:
    body = json.loads(CASE.read_text())
    compiled = SensorSpec(build_sensor(load_settings(env={}))).evaluate({"body": body})
    legacy = SensorSpec(_with_trigger("argoWorkflow", "submit")).evaluate({"body": body})
    assert legacy.triggered and legacy.workflow == compiled.workflow
    assert compiled.workflow["metadata"]["labels"]["events.argoproj.io/sensor"] == "driftloop-drift"
    assert compiled.workflow["metadata"]["labels"]["events.argoproj.io/trigger"] == "driftloop-drift-retrain"


@pytest.mark.parametrize(
    ("kind", "operation"), [("k8s", "update"), ("k8s", "patch"), ("argoWorkflow", "resume")]
)
def test_local_sensor_refuses_a_trigger_that_creates_nothing(kind: str, operation: str) -> None:
    with pytest.raises(ConfigError, match=f"operation is '{operation}'"):
        SensorSpec(_with_trigger(kind, operation))


def test_a_kafka_event_bus_uses_the_configured_broker_its_secrets_and_the_documented_topics() -> None:
    from sensors.manifests import build_event_bus, event_bus_kind, event_bus_topics

    sasl = {
        "kafka.bootstrap_servers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "kafka.security_protocol": "SASL_SSL",
        "kafka.sasl_mechanism": "SCRAM-SHA-512",
        "kafka.ssl_cafile": "/etc/kafka/ca.pem",
    }
    settings = load_settings(env={}, overrides=sasl)
    assert event_bus_kind(settings) == "kafka"  # auto: a cluster that has Kafka gets a Kafka EventBus
    bus = build_event_bus(settings)["spec"]
    assert set(bus) == {"kafka"}
    kafka = bus["kafka"]
    assert kafka["url"] == "kafka-0.kafka:9093,kafka-1.kafka:9093" and kafka["topic"] == "driftloop.eventbus"
    assert kafka["sasl"]["mechanism"] == "SCRAM-SHA-512"
    assert kafka["sasl"]["userSecret"] == {"name": "driftloop-kafka", "key": "username"}
    assert kafka["tls"]["caCertSecret"] == {"name": "driftloop-kafka-tls", "key": "ca.crt"}
    assert event_bus_topics(settings) == [
        "driftloop.eventbus",
        "driftloop.eventbus-driftloop-drift-trigger",
        "driftloop.eventbus-driftloop-drift-action",
    ]
    plain = load_settings(env={}, overrides={"eventbus": "jetstream", **sasl})
    assert set(build_event_bus(plain)["spec"]) == {"jetstream"}
    assert event_bus_kind(load_settings(env={}, overrides={})) == "jetstream"  # no Kafka address: NATS


def test_event_source_account_may_hold_its_lease_on_a_kafka_event_bus() -> None:
    """On a Kafka EventBus Argo Events elects the active EventSource pod with a Kubernetes Lease named
    ``eventsource-<name>`` (pkg/shared/leaderelection); as the namespace's default account the real pod
    logged "leases ... is forbidden" forever and never read a drift event."""
    settings = load_settings(env={}, overrides={"kafka.bootstrap_servers": "kafka:9092", "eventbus": "kafka"})
    source = build_event_source(settings)
    account = source["spec"]["template"]["serviceAccountName"]
    rbac = list(yaml.safe_load_all((REPO / "manifests" / "base" / "rbac-eventsource.yaml").read_text()))
    by_kind = {d["kind"]: d for d in rbac}
    assert by_kind["ServiceAccount"]["metadata"]["name"] == account
    binding = by_kind["RoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "driftloop"}]
    assert binding["roleRef"]["name"] == by_kind["Role"]["metadata"]["name"]
    lease = f"eventsource-{source['metadata']['name']}"
    allowed = {
        verb
        for rule in by_kind["Role"]["rules"]
        if rule["apiGroups"] == ["coordination.k8s.io"] and rule["resources"] == ["leases"]
        if lease in rule.get("resourceNames", [lease])
        for verb in rule["verbs"]
    }
    assert allowed >= {"get", "create", "update"}
    # nothing but its lease
    assert {
        (g, r) for rule in by_kind["Role"]["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    } == {("coordination.k8s.io", "leases")}
