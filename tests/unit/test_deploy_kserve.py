"""The ``kserve`` deploy target against a FAKE Kubernetes API server: the real ``kubernetes`` client
(``CustomObjectsApi``) is pointed at a loopback HTTP server that holds one InferenceService, applies JSON
merge patches and checks the requests. No cluster, no KServe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from driftloop.config import load_settings
from tests.fakes import JsonHandler, serving
from workflows.deploy.kserve import KServeTarget

PATH = "/apis/serving.kserve.io/v1beta1/namespaces/driftloop/inferenceservices/credit"


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = value


@pytest.fixture
def fake() -> Iterator[tuple[dict[str, Any], list[Any], KServeTarget]]:
    isvc: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "credit", "namespace": "driftloop", "generation": 1},
        "spec": {
            "predictor": {
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": "img",
                        "args": ["serve", "--model", "credit", "--model-version", "v1"],
                    }
                ]
            }
        },
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True"}],
            # a Serverless predictor reports its Knative revisions
            "components": {"predictor": {"latestCreatedRevision": "credit-predictor-00001"}},
        },
    }
    seen: list[Any] = []

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            seen.append(("GET", self.path, None, None))
            if self.path != PATH:
                return self._reply(404, {"kind": "Status", "code": 404})
            isvc["status"]["observedGeneration"] = isvc["metadata"]["generation"]  # ready on the next read
            return self._reply(200, isvc)

        def do_PATCH(self) -> None:
            body = self.read_json()
            seen.append(("PATCH", self.path, self.headers["Content-Type"], body))
            if self.headers["Content-Type"] != "application/merge-patch+json":
                return self._reply(415, {"message": "expected a JSON merge patch"})
            merge_patch(isvc, body)
            isvc["metadata"]["generation"] += 1
            return self._reply(200, isvc)

    from kubernetes import client

    settings = load_settings(env={}, overrides={"deploy.target": "kserve", "serving.canary_fraction": 0.1})
    with serving(Handler) as url:
        api = client.ApiClient(client.Configuration(host=url))
        yield isvc, seen, KServeTarget(settings, api_client=api, poll_s=0.01)


def test_canary_sets_traffic_percent_and_pins_the_version(fake: Any) -> None:
    isvc, seen, target = fake
    assert target.start_canary("credit", "v2") == 10
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["containers"][0]["args"][-1] == "v2"
    assert predictor["containers"][0]["image"] == "img"
    assert [s[0] for s in seen] == ["GET", "PATCH", "GET"]


def test_promote_removes_the_percent_and_rollback_zeroes_it(fake: Any) -> None:
    isvc, seen, target = fake
    target.start_canary("credit", "v2")
    target.take_all_traffic("credit")
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    assert seen[-2][3] == {"spec": {"predictor": {"canaryTrafficPercent": None}}}
    target.start_canary("credit", "v3")
    target.remove_canary("credit")
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 0


def test_later_steps_patch_only_the_percent(fake: Any) -> None:
    isvc, seen, target = fake
    target.start_canary("credit", "v2", 0.1)
    assert target.set_percent("credit", 0.5) == 50
    assert seen[-2][3] == {"spec": {"predictor": {"canaryTrafficPercent": 50}}}
    assert isvc["spec"]["predictor"]["containers"][0]["args"][-1] == "v2"


@pytest.mark.parametrize("mode", ["RawDeployment", "Standard"])
def test_raw_deployment_refuses_a_canary_it_would_not_split(fake: Any, mode: str) -> None:
    from driftloop.errors import WorkflowError

    isvc, seen, target = fake
    isvc["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": mode}
    with pytest.raises(WorkflowError, match="RawDeployment") as err:
        target.start_canary("credit", "v2")
    assert "shadow" in (err.value.hint or "")
    assert [s[0] for s in seen] == ["GET"]  # nothing patched


def test_mode_inferred_from_the_status_without_an_annotation(fake: Any) -> None:
    from workflows.deploy.kserve import deployment_mode

    isvc, _seen, _target = fake
    assert deployment_mode(isvc) == "Serverless"
    del isvc["status"]["components"]
    assert deployment_mode(isvc) == "RawDeployment"


def test_shadow_promote_pins_the_predictor_without_a_percent(fake: Any) -> None:
    isvc, _seen, target = fake
    target.pin("credit", "v5")
    predictor = isvc["spec"]["predictor"]
    assert predictor["containers"][0]["args"][-1] == "v5" and "canaryTrafficPercent" not in predictor


def test_a_shadow_patches_nothing_in_either_mode(fake: Any) -> None:
    isvc, seen, target = fake
    isvc["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": "RawDeployment"}
    assert target._set_traffic("credit", "v2", 1.0, "shadow", first=True) == {"mirrored_by": "credit"}
    assert seen == []
