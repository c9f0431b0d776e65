"""driftloop.validation: every manifest validates strictly, and planted errors are caught with their path.

The project's own checks use only installed dependencies (Hera's models, kubernetes-validate). The
official-JSON-schema validator in ../shared (next to the repository, absent on a user's clone) is an
extra check, run only when present.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.errors import WorkflowError
from driftloop.validation import check_document, validate_document, validate_documents, validate_paths
from tests.conftest import kustomize

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
GENERATED = MANIFESTS / "base" / "generated"
OVERLAYS = sorted(p.name for p in (MANIFESTS / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
SHARED_VALIDATOR = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "validate_manifests.py"
# Hera 7.1 ships no EventBus model, so no schema check runs on it (the ../shared extra check covers it).
UNCHECKED_KINDS = {"EventBus"}

needs_shared = pytest.mark.skipif(
    not SHARED_VALIDATOR.is_file(),
    reason="extra check only: ../shared/tools/validate_manifests.py (official Argo JSON schemas) is absent",
)


def _yaml_files() -> list[Path]:
    return sorted(
        p for p in MANIFESTS.rglob("*.y*ml") if p.name not in ("kustomization.yaml", "kustomization.yml")
    )


def _generated(kind: str, has: Callable[[dict[str, Any]], object] = lambda d: True) -> dict[str, Any]:
    """A copy of the first generated document of ``kind`` for which ``has`` is true (found by kind, not
    by file name, so a renamed generated file does not break the test)."""
    for path in sorted(GENERATED.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind and has(doc):
                return copy.deepcopy(doc)
    raise AssertionError(f"no generated {kind} found under {GENERATED}")


def _template_index(doc: dict[str, Any], *keys: str) -> int | None:
    """Index of the first template of a WorkflowTemplate with ``keys`` nested (``retryStrategy``,
    ``backoff``), or None."""

    def nested(node: Any, path: tuple[str, ...]) -> bool:
        return not path or (isinstance(node, dict) and path[0] in node and nested(node[path[0]], path[1:]))

    return next((i for i, t in enumerate(doc["spec"]["templates"]) if nested(t, keys)), None)


def _template_with(*keys: str) -> tuple[dict[str, Any], int]:
    doc = _generated("WorkflowTemplate", lambda d: _template_index(d, *keys) is not None)
    index = _template_index(doc, *keys)
    assert index is not None
    return doc, index


def _name(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["name"])


def _sensor() -> dict[str, Any]:
    return _generated("Sensor", lambda d: "k8s" in d["spec"]["triggers"][0]["template"])


def _kafka_source() -> tuple[dict[str, Any], str]:
    source = _generated("EventSource", lambda d: d["spec"].get("kafka"))
    return source, next(iter(source["spec"]["kafka"]))


# --- every manifest is valid, and really checked --------------------------------------------------------
@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_manifest_file_validates(path: Path) -> None:
    report = validate_paths([path])
    assert report.ok, "\n".join(report.errors)
    assert report.documents and not report.skipped_files
    assert set(report.skipped) <= UNCHECKED_KINDS, report.skipped


def test_the_whole_tree_is_checked() -> None:
    report = validate_paths([MANIFESTS])
    assert report.ok, "\n".join(report.errors)
    assert {
        "WorkflowTemplate",
        "CronWorkflow",
        "EventSource",
        "Sensor",
        "Deployment",
        "Service",
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
    } <= set(report.checked)
    assert set(report.skipped) == UNCHECKED_KINDS and not report.unchecked
    assert report.documents == sum(report.checked.values()) + 1  # the one EventBus
    reasons = set(report.skipped_files.values())
    assert reasons == {"kustomization", "not YAML"}  # kustomization.yaml files, the Grafana JSON


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_output_validates(overlay: str) -> None:
    report = validate_documents(_overlay(overlay), f"overlays/{overlay}")
    assert report.ok, "\n".join(report.errors)
    assert {"WorkflowTemplate", "CronWorkflow", "EventSource", "Sensor", "Deployment"} <= set(report.checked)
    assert set(report.skipped) <= UNCHECKED_KINDS


# --- planted errors -------------------------------------------------------------------------------------
def test_misspelt_field_deep_in_a_template_script() -> None:
    wft, i = _template_with("script")
    wft["spec"]["templates"][i]["script"]["imagePullPolicyy"] = "Always"
    assert validate_document(wft) == [
        f"WorkflowTemplate {_name(wft)}: spec.templates[{i}].script.imagePullPolicyy: unknown field"
    ]


def test_misspelt_field_in_a_retry_backoff() -> None:
    wft, i = _template_with("retryStrategy", "backoff")
    wft["spec"]["templates"][i]["retryStrategy"]["backoff"]["maxDurationn"] = "1m"
    (error,) = validate_document(wft)
    assert error == (
        f"WorkflowTemplate {_name(wft)}: spec.templates[{i}].retryStrategy.backoff.maxDurationn: "
        "unknown field"
    )


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda s: s.update(schedulee="0 3 * * 1"), "spec.schedulee"),
        (lambda s: s["workflowSpec"].update(podGCC={}), "spec.workflowSpec.podGCC"),
    ],
    ids=["spec", "workflowSpec"],
)
def test_unknown_field_in_a_cron_workflow(mutate: Callable[[dict[str, Any]], None], path: str) -> None:
    cron = _generated("CronWorkflow")
    mutate(cron["spec"])
    assert validate_document(cron) == [f"CronWorkflow {_name(cron)}: {path}: unknown field"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda t: t.update(atLeastOncee=True), "spec.triggers[0].atLeastOncee"),
        (
            lambda t: t["template"]["k8s"].update(operationn="create"),
            "spec.triggers[0].template.k8s.operationn",
        ),
        # the Workflow a trigger creates is checked as a Workflow
        (
            lambda t: t["template"]["k8s"]["source"]["resource"]["spec"].update(entrypointt="x"),
            "spec.triggers[0].template.k8s.source.resource.spec.entrypointt",
        ),
    ],
    ids=["trigger", "k8s", "embedded-workflow"],
)
def test_unknown_field_in_a_sensor_trigger(mutate: Callable[[dict[str, Any]], None], path: str) -> None:
    sensor = _sensor()
    mutate(sensor["spec"]["triggers"][0])
    assert validate_document(sensor) == [f"Sensor {_name(sensor)}: {path}: unknown field"]


def test_unknown_field_in_an_event_source_kafka_entry() -> None:
    source, entry = _kafka_source()
    source["spec"]["kafka"][entry]["consumerGroup"] = {"groupNamee": "x"}
    source["spec"]["kafka"][entry]["topicc"] = "x"
    assert validate_document(source) == [
        f"EventSource {_name(source)}: spec.kafka.{entry}.consumerGroup.groupNamee: unknown field",
        f"EventSource {_name(source)}: spec.kafka.{entry}.topicc: unknown field",
    ]


def test_wrong_types_are_reported() -> None:
    wft, i = _template_with("dag", "tasks")
    wft["spec"]["templates"][i]["dag"]["tasks"] = "validate-data"
    assert validate_document(wft) == [
        f"WorkflowTemplate {_name(wft)}: spec.templates[{i}].dag.tasks: expected array, got string"
    ]
    cron = _generated("CronWorkflow")
    cron["spec"]["schedules"] = 5
    cron["spec"]["startingDeadlineSeconds"] = "soon"
    assert sorted(validate_document(cron)) == [
        f"CronWorkflow {_name(cron)}: spec.schedules: expected array, got integer",
        f"CronWorkflow {_name(cron)}: spec.startingDeadlineSeconds: expected integer, got string",
    ]
    sensor = _sensor()
    sensor["spec"]["dependencies"][0]["filters"] = {
        "data": [{"path": "body.x", "type": "string", "value": "x"}]
    }
    sensor["spec"]["triggers"][0]["retryStrategy"] = {"steps": 3, "jitter": "0.2"}
    assert validate_document(sensor) == [
        f"Sensor {_name(sensor)}: spec.dependencies[0].filters.data[0].value: expected array, got string",
        f"Sensor {_name(sensor)}: spec.triggers[0].retryStrategy.jitter: expected number, got string",
    ]


def test_unknown_field_in_a_deployment_container() -> None:
    deployment = _generated("Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers[0]["imagePullPolicyy"] = "Always"
    assert validate_document(deployment) == [
        f"Deployment {_name(deployment)}: spec.template.spec.containers[0].imagePullPolicyy: unknown field"
    ]
    deployment["spec"]["template"]["spec"]["containers"] = "c"
    (error,) = validate_document(deployment)
    assert error.startswith(f"Deployment {_name(deployment)}: spec.template.spec.containers: ")


# --- what is accepted, and what is honestly not checked -------------------------------------------------
def test_argo_schema_quirks_are_accepted() -> None:
    """JSON forms that Hera's Python models spell differently: Quantity as a number, IntOrString as an
    int, Argo Events' Amount (a number) and Int64OrString, and TLSConfig.enabled and an inline webhook
    context, which Hera 7.1's event models lack."""
    wft, i = _template_with("script", "resources", "limits")
    wft["spec"]["templates"][i]["script"]["resources"]["limits"]["cpu"] = 2
    wft["spec"]["templates"][i]["activeDeadlineSeconds"] = 600
    assert validate_document(wft) == []
    sensor = _sensor()
    sensor["spec"]["triggers"][0]["retryStrategy"] = {"steps": 3, "duration": 2_000_000_000, "factor": 2.5}
    sensor["spec"]["triggers"][0]["template"]["k8s"]["source"]["resource"]["spec"][
        "activeDeadlineSeconds"
    ] = 60
    assert validate_document(sensor) == []
    source, entry = _kafka_source()
    source["spec"]["kafka"][entry]["tls"] = {"enabled": True}
    source["spec"]["kafka"][entry]["connectionBackoff"] = {"duration": "10s", "factor": 2, "jitter": 0.2}
    assert validate_document(source) == []
    webhook = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "hook"},
        "spec": {"webhook": {"drift": {"port": "12000", "endpoint": "/drift", "method": "POST"}}},
    }
    assert validate_document(webhook) == []
    webhook["spec"]["webhook"]["drift"]["portt"] = "1"
    assert validate_document(webhook) == ["EventSource hook: spec.webhook.drift.portt: unknown field"]


def test_unknown_kinds_are_reported_as_not_checked() -> None:
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"}}
    result = check_document(rule)
    assert result.errors == [] and result.skipped and "PrometheusRule" in result.skipped
    bus = check_document(_generated("EventBus"))
    assert bus.errors == [] and bus.skipped and "EventBus" in bus.skipped
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}
    report = validate_documents([rule, _generated("EventBus"), account, None])
    assert report.ok and report.documents == 3
    assert report.checked == {"ServiceAccount": 1} and set(report.skipped) == {"PrometheusRule", "EventBus"}
    assert "not checked: EventBus" in report.summary()


def test_embedded_object_of_unknown_kind_is_noted_unchecked() -> None:
    sensor = _sensor()
    source = sensor["spec"]["triggers"][0]["template"]["k8s"]["source"]
    source["resource"] = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService"}
    result = check_document(sensor)
    assert result.errors == [] and result.skipped is None
    assert len(result.unchecked) == 1 and "InferenceService not checked" in result.unchecked[0]


def test_not_an_object_and_unreadable_yaml(tmp_path: Path) -> None:
    assert validate_document(["a"]) == ["not a Kubernetes object (needs string apiVersion and kind)"]
    assert validate_document({"apiVersion": "v1", "kind": ["Pod"]})  # an error, never an exception
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    with pytest.raises(WorkflowError, match="cannot read"):
        validate_paths([bad])


def test_paths_skip_kustomizations_and_non_yaml(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\n")
    (tmp_path / "dash.json").write_text("{}")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n")
    report = validate_paths([tmp_path])
    assert report.ok and report.checked == {"Namespace": 1}
    assert sorted(Path(p).name for p in report.skipped_files) == ["dash.json", "kustomization.yaml"]


# --- the extra check, when ../shared is next to the repository ---------------------------------------------
def _shared(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SHARED_VALIDATOR), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@needs_shared
def test_shared_validator_agrees_on_the_manifests() -> None:
    out = _shared(MANIFESTS)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_shared
def test_shared_validator_agrees_on_planted_errors(tmp_path: Path) -> None:
    wft, i = _template_with("script")
    wft["spec"]["templates"][i]["script"]["imagePullPolicyy"] = "Always"
    source, entry = _kafka_source()
    source["spec"]["kafka"][entry]["topicc"] = "x"
    for i, doc in enumerate([wft, source]):
        path = tmp_path / f"{i}.yaml"
        path.write_text(yaml.safe_dump(doc))
        assert validate_document(doc) and _shared(path).returncode != 0


@cache
def _overlay(overlay: str) -> list[Any]:
    return kustomize(MANIFESTS / "overlays" / overlay)
