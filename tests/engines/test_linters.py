"""Argo's own validators over everything `driftloop compile` writes — and over broken objects, to show they
fail with Argo's message. The builds come from `make engines` (see linters.py); nothing here skips.

* every WorkflowTemplate and CronWorkflow: ``argo lint --offline`` (Argo Workflows v3.6, strict);
* every EventSource and Sensor: ``argo-events lint --strict`` (v1.9.11);
* the EventBus (which ``argo-events lint`` skips): Argo Events' JSON schema, unknown fields refused;
* for the repository's configuration (the committed YAML) and for a multi-model one: the two built-in
  examples, a model of the user's own with manual approval and a stepped rollout, one with a shadow
  rollout and its own image, a Kafka EventBus with SASL/TLS.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from driftloop.compiler import GENERATED_DIR, write
from driftloop.config import load_settings
from driftloop.validation import validate_paths
from tests.conftest import REPO, kustomize
from tests.engines.linters import argo_events_lint, argo_lint, event_bus_errors

COMMITTED = REPO / "manifests" / GENERATED_DIR

TRAINER = """
from sklearn.linear_model import Ridge


def train(data, target, params):
    return Ridge().fit(data.drop(columns=[target]), data[target])
"""


def _multi_model(tmp_path: Path) -> Path:
    code = tmp_path / "team"
    code.mkdir()
    (code / "pricing_model.py").write_text(TRAINER)
    byom = {"task": "regression", "target": "units", "trainer": "pricing_model:train", "code_dir": str(code)}
    models = {
        "credit": {},
        "demand": {},
        "pricing": {**byom, "approval": "required", "deploy": {"steps": [0.1, 0.5, 1.0]}},
        "pricing-shadow": {
            **byom,
            "image": "registry.example.com/pricing:1.0",
            "deploy": {"strategy": "shadow"},
        },
    }
    kafka = {
        "kafka.bootstrap_servers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "kafka.security_protocol": "SASL_SSL",
        "kafka.sasl_mechanism": "SCRAM-SHA-512",
        "kafka.ssl_cafile": "/etc/kafka/ca.pem",
        "eventbus": "kafka",
    }
    settings = load_settings(env={}, overrides={"models": models, **kafka, "data_dir": str(tmp_path / "d")})
    out = tmp_path / "manifests"
    write(settings, out)
    return out / GENERATED_DIR


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {"committed": COMMITTED, "multi-model": _multi_model(tmp_path_factory.mktemp("lint"))}


@pytest.mark.parametrize("which", ["committed", "multi-model"])
def test_argo_lints_every_workflow_template_and_cron_workflow(generated: dict[str, Path], which: str) -> None:
    workflows = generated[which] / "workflows"
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in workflows.glob("*.yaml")}
    assert kinds == {"WorkflowTemplate", "CronWorkflow"}
    lint = argo_lint(workflows)
    assert lint.ok, lint.output


@pytest.mark.parametrize("which", ["committed", "multi-model"])
def test_argo_events_lints_the_event_source_and_sensor_and_its_schema_the_event_bus(
    generated: dict[str, Path], which: str
) -> None:
    sensors = generated[which] / "sensors"
    lint = argo_events_lint(sensors)
    assert lint.ok, lint.output
    assert "EventSource is valid" in lint.output and "Sensor is valid" in lint.output
    bus = yaml.safe_load((sensors / "eventbus.yaml").read_text())
    assert event_bus_errors(bus) == []
    assert ("kafka" if which == "multi-model" else "jetstream") in bus["spec"]


def test_the_local_cluster_overlays_event_objects_pass_argo_events_lint_and_schema(tmp_path: Path) -> None:
    """The overlay replaces the EventBus spec (Kafka instead of JetStream) and the Kafka addresses: what
    `kubectl apply -k` sends must still be valid for Argo Events."""
    objs = kustomize(REPO / "manifests" / "overlays" / "local-cluster")
    kinds = {"EventBus", "EventSource", "Sensor"}
    for obj in objs:
        if obj["kind"] in kinds:
            (tmp_path / f"{obj['kind'].lower()}.yaml").write_text(yaml.safe_dump(obj))
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == ["eventbus", "eventsource", "sensor"]
    lint = argo_events_lint(tmp_path / "eventsource.yaml", tmp_path / "sensor.yaml")
    assert lint.ok, lint.output
    bus = yaml.safe_load((tmp_path / "eventbus.yaml").read_text())
    assert event_bus_errors(bus) == [] and "kafka" in bus["spec"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_an_unresolvable_parameter_and_a_missing_task_fail_with_argos_message(tmp_path: Path) -> None:
    bad_param = _write(
        tmp_path,
        "bad-param.yaml",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: bad-param}
        spec:
          entrypoint: main
          templates:
            - name: main
              container: {image: busybox, command: [echo, "{{inputs.parameters.nope}}"]}
        """,
    )
    lint = argo_lint(bad_param)
    assert not lint.ok and "failed to resolve {{inputs.parameters.nope}}" in lint.output, lint.output
    bad_depends = _write(
        tmp_path,
        "bad-depends.yaml",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: bad-depends}
        spec:
          entrypoint: main
          templates:
            - name: main
              dag:
                tasks:
                  - {name: a, template: echo}
                  - {name: b, template: echo, depends: "a && ghost"}
            - name: echo
              container: {image: busybox, command: [echo, hi]}
        """,
    )
    lint = argo_lint(bad_depends)
    assert not lint.ok and "invalid dependency ghost" in lint.output, lint.output


def test_the_event_bus_schema_refuses_an_unknown_field() -> None:
    bus = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventBus",
        "metadata": {"name": "b"},
        "spec": {"kafka": {"url": "k:9092", "topik": "x"}},
    }
    assert any("topik" in e for e in event_bus_errors(bus))


def test_a_trigger_naming_a_missing_dependency_is_refused_with_argo_events_runtime_message(
    tmp_path: Path,
) -> None:
    """argo-events lint (v1.9.11) accepts it — its validator checks only that a name is not empty — and a
    real sensor pod then logs this message and never fires the trigger; driftloop's strict validation
    (`driftloop compile --check`) refuses it with that message."""
    sensor = yaml.safe_load((COMMITTED / "sensors" / "sensor.yaml").read_text())
    sensor["spec"]["triggers"][0]["template"]["conditions"] = "nope"
    path = tmp_path / "sensor.yaml"
    path.write_text(yaml.safe_dump(sensor))
    assert argo_events_lint(path).ok  # Argo's linter lets it through
    report = validate_paths([path])
    assert not report.ok
    assert "Dependency expression and dependency list do not match, nope is not found" in report.errors[0]
    sensor["spec"]["triggers"][0]["template"].pop("conditions")
    sensor["spec"]["triggers"][0]["template"]["k8s"]["parameters"][0]["src"]["dependencyName"] = "ghost"
    path.write_text(yaml.safe_dump(sensor))
    report = validate_paths([path])
    assert not report.ok and "dependencyName 'ghost' is not a dependency" in report.errors[0]
