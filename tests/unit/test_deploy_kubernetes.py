"""The ``kubernetes`` deploy target against a FAKE Kubernetes API server: the real ``kubernetes`` client is
pointed at a loopback HTTP server (below) that holds Deployments in memory, applies the patches and
checks every request (path, verb, content type). No cluster is involved."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.errors import ConnectionError_, WorkflowError
from tests.fakes import JsonHandler, serving
from workflows.deploy.k8s import KubernetesTarget, canary_replicas
from workflows.deploy.manifests import deployment

NS = "driftloop"
PREFIX = f"/apis/apps/v1/namespaces/{NS}/deployments/"


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """The strategic merge the fake applies: maps merge, containers merge by name, other lists replace."""
    for key, value in patch.items():
        if key == "containers":
            by_name = {c["name"]: c for c in target.setdefault("containers", [])}
            for c in value:
                merge(by_name.setdefault(c["name"], {"name": c["name"]}), c)
            target["containers"] = list(by_name.values())
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str, Any]] = []
        self.rollout_after_reads = 1  # a patched Deployment becomes ready after this many GETs
        self.stuck = False
        self.status_code: int | None = None
        self._pending: dict[str, int] = {}

    def get(self, name: str) -> tuple[int, Any]:
        obj = self.objects.get(name)
        if obj is None:
            return 404, {"kind": "Status", "code": 404, "reason": "NotFound"}
        left = self._pending.get(name, 0)
        if left > 0:
            self._pending[name] = left - 1
        elif not self.stuck:
            n = obj["spec"]["replicas"]
            obj["status"] = {
                "observedGeneration": obj["metadata"]["generation"],
                "replicas": n,
                "updatedReplicas": n,
                "availableReplicas": n,
                "readyReplicas": n,
            }
        return 200, obj

    def patch(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        obj = self.objects.get(name)
        if obj is None:
            return 404, {"kind": "Status", "code": 404}
        merge(obj, body)
        obj["metadata"]["generation"] += 1
        self._pending[name] = self.rollout_after_reads
        return 200, obj


@pytest.fixture
def fake() -> Iterator[tuple[FakeApi, str]]:
    api = FakeApi()

    class Handler(JsonHandler):
        def _route(self, verb: str) -> None:
            body = self.read_json()
            api.requests.append((verb, self.path, self.headers.get("Content-Type", ""), body))
            if api.status_code:
                return self._reply(api.status_code, {"kind": "Status", "code": api.status_code})
            if not self.path.startswith(PREFIX):
                return self._reply(400, {"message": f"unexpected path {self.path}"})
            name = self.path[len(PREFIX) :]
            if verb == "GET":
                return self._reply(*api.get(name))
            if self.headers.get("Content-Type") != "application/strategic-merge-patch+json":
                return self._reply(415, {"message": "expected a strategic merge patch"})
            return self._reply(*api.patch(name, body))

        def do_GET(self) -> None:
            self._route("GET")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    settings = load_settings(env={}, overrides={"deploy.target": "kubernetes", "deploy.namespace": NS})
    for track, replicas in (("stable", 4), ("canary", 0)):
        obj = deployment("credit", track, "champion", replicas, NS, "ghcr.io/driftloop/driftloop:0.1.0")
        obj["metadata"]["generation"] = 1
        api.objects[obj["metadata"]["name"]] = obj
    with serving(Handler) as url:
        yield api, url, settings


def target(url: str, settings: Any, **kw: Any) -> KubernetesTarget:
    from kubernetes import client

    conf = client.Configuration(host=url)
    return KubernetesTarget(settings, api_client=client.ApiClient(conf), poll_s=0.01, **kw)


def test_canary_replicas_follow_the_fraction() -> None:
    assert canary_replicas(4, 0.2) == 1
    assert canary_replicas(8, 0.2) == 2
    assert canary_replicas(1, 0.05) == 1
    assert canary_replicas(4, 0.0) == 0


def test_start_canary_pins_version_scales_and_waits(fake: Any) -> None:
    api, url, settings = fake
    out = target(url, settings).start_canary("credit", "v7")
    assert out == {"canary": "v7", "canary_replicas": 1, "stable_replicas": 4}
    canary = api.objects["serve-credit-canary"]
    container = canary["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["serve", "--model", "credit", "--model-version", "v7"]
    assert container["image"] == "ghcr.io/driftloop/driftloop:0.1.0"
    assert canary["spec"]["replicas"] == 1
    assert canary["spec"]["template"]["metadata"]["labels"]["driftloop.io/model-version"] == "v7"
    verbs = [(v, p.rsplit("/", 1)[1]) for v, p, _, _ in api.requests]
    # read stable, patch canary, then poll the canary until its rollout is done (one not-ready read)
    assert verbs == [
        ("GET", "serve-credit"),
        ("PATCH", "serve-credit-canary"),
        ("GET", "serve-credit-canary"),
        ("GET", "serve-credit-canary"),
    ]
    assert {ct for v, _, ct, _ in api.requests if v == "PATCH"} == {"application/strategic-merge-patch+json"}


def test_promote_moves_stable_and_removes_canary(fake: Any) -> None:
    api, url, settings = fake
    t = target(url, settings)
    t.start_canary("credit", "v7")
    t.move_stable("credit", "v7")
    t.remove_canary("credit")
    stable = api.objects["serve-credit"]
    assert stable["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "v7"
    assert stable["spec"]["replicas"] == 4
    assert api.objects["serve-credit-canary"]["spec"]["replicas"] == 0


def test_rollout_that_never_finishes_fails_with_a_hint(fake: Any) -> None:
    api, url, settings = fake
    api.stuck = True
    with pytest.raises(WorkflowError, match="did not become ready") as err:
        target(url, settings, timeout_s=0.2).start_canary("credit", "v7")
    assert "kubectl" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (404, WorkflowError, "serving manifests"),
        (403, WorkflowError, "Role"),
        (500, ConnectionError_, "retry"),
    ],
)
def test_api_errors_say_what_to_change(fake: Any, status: int, error: type, hint: str) -> None:
    api, url, settings = fake
    api.status_code = status
    with pytest.raises(error) as err:
        target(url, settings).remove_canary("credit")
    assert hint in (err.value.hint or "")


def test_get_target_picks_kubernetes(fake: Any) -> None:
    from kubernetes import client

    from workflows.deploy import get_target

    api, url, settings = fake
    t = get_target(settings, api_client=client.ApiClient(client.Configuration(host=url)))
    assert isinstance(t, KubernetesTarget) and t.namespace == NS
    t.remove_canary("credit")
    assert api.requests[-1][0] == "PATCH" and copy.deepcopy(api.requests[-1][3]) == {"spec": {"replicas": 0}}


def test_a_later_rollout_step_rescales_the_canary(fake: Any) -> None:
    api, url, settings = fake
    t = target(url, settings)
    assert t.start_canary("credit", "v7", 0.2)["canary_replicas"] == 1
    assert t.scale_canary("credit", 0.5) == {"canary_replicas": 4, "stable_replicas": 4}
    canary = api.objects["serve-credit-canary"]
    assert canary["spec"]["replicas"] == 4
    assert canary["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "v7"  # still pinned
    patches = [body for verb, _, _, body in api.requests if verb == "PATCH"]
    assert patches[-1] == {"spec": {"replicas": 4}}


def test_a_shadow_gets_no_canary_pods(fake: Any) -> None:
    api, url, settings = fake
    t = target(url, settings)
    out = t._set_traffic("credit", "v7", 1.0, "shadow", first=True)
    assert out == {"mirrored_by": "serve-credit"}
    assert api.requests == []  # the stable pods' server mirrors; nothing is patched
