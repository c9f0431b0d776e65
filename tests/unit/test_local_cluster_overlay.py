"""manifests/overlays/local-cluster on a real Argo: what the real controller needs beyond our executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from driftloop.config import Settings
from tests.conftest import kustomize

REPO = Path(__file__).resolve().parents[2]


def _output_artifacts(objs: list[Any]) -> list[str]:
    out = []
    for obj in objs:
        if obj.get("kind") != "WorkflowTemplate":
            continue
        for t in obj["spec"].get("templates", []):
            out += [
                f"{obj['metadata']['name']}/{t['name']}/{a['name']}"
                for a in (t.get("outputs") or {}).get("artifacts", [])
            ]
    return out


def test_local_cluster_has_an_artifact_repository_for_the_steps_artifacts() -> None:
    # the real controller failed validate-data: "You need to configure artifact storage"
    objs = kustomize(REPO / "manifests" / "overlays" / "local-cluster")
    assert _output_artifacts(objs), "no step has output artifacts: this check would be vacuous"
    cms = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    cm = cms["workflow-controller-configmap"]
    repo = yaml.safe_load(cm["data"]["artifactRepository"])
    s3 = repo["s3"]
    assert s3["endpoint"] == "minio.minio.svc.cluster.local:9000" and s3["insecure"] is True
    config = cms["driftloop-config"]
    assert s3["bucket"] == yaml.safe_load(config["data"]["driftloop.yaml"])["s3"]["bucket"]
    # the keys are the Secret every driftloop pod already reads its S3 keys from
    assert s3["accessKeySecret"] == {"name": "driftloop-s3", "key": "access-key-id"}
    assert s3["secretKeySecret"] == {"name": "driftloop-s3", "key": "secret-access-key"}


def test_local_cluster_event_bus_is_kafka_on_the_event_sources_broker() -> None:
    # the base's JetStream EventBus needs NATS images a registry-less cluster does not have; the overlay
    # runs Argo Events' Kafka EventBus on the broker the EventSource already reads
    objs = kustomize(REPO / "manifests" / "overlays" / "local-cluster")
    (bus,) = [o for o in objs if o["kind"] == "EventBus"]
    (source,) = [o for o in objs if o["kind"] == "EventSource"]
    (sensor,) = [o for o in objs if o["kind"] == "Sensor"]
    assert list(bus["spec"]) == ["kafka"], bus["spec"]
    kafka = bus["spec"]["kafka"]
    url = source["spec"]["kafka"]["drift-events"]["url"]
    assert kafka["url"] == url == "kafka.kafka.svc.cluster.local:9092"
    assert source["spec"]["eventBusName"] == sensor["spec"]["eventBusName"] == bus["metadata"]["name"]
    assert kafka["topic"] == Settings().topics.eventbus
    # a Sensor (re)started after the EventSource published still reads the event
    assert kafka["consumerGroup"]["oldest"] is True and kafka["consumerGroup"]["groupName"]
