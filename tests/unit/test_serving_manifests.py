"""Serving manifests validate against Kubernetes 1.33 (strict) and keep to least privilege."""

from __future__ import annotations

import yaml

from driftloop.config import load_settings
from driftloop.validation import check_document
from workflows.deploy import render_serving_manifests


def docs(target: str = "kubernetes") -> dict[str, list[dict]]:
    settings = load_settings(env={}, overrides={"deploy.target": target})
    rendered = render_serving_manifests(settings, ["credit", "churn"])
    return {path: list(yaml.safe_load_all(text)) for path, text in rendered.items()}


def test_every_manifest_validates_strictly_on_1_33() -> None:
    rendered = docs()
    assert set(rendered) == {"serving/rbac.yaml", "serving/credit.yaml", "serving/churn.yaml"}
    kinds = []
    for objects in [*rendered.values(), *docs("kserve").values()]:
        for obj in objects:
            result = check_document(obj)  # kubernetes-validate, strict, Kubernetes 1.33
            assert result.errors == [] and result.skipped is None, (result.errors, result.skipped)
            kinds.append(obj["kind"])
    assert {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding"} <= set(kinds)


def test_role_allows_only_get_and_patch_on_named_resources() -> None:
    role = next(o for o in docs()["serving/rbac.yaml"] if o["kind"] == "Role")
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "patch"],
            "resourceNames": ["serve-credit", "serve-credit-canary", "serve-churn", "serve-churn-canary"],
        }
    ]
    kserve_role = next(o for o in docs("kserve")["serving/rbac.yaml"] if o["kind"] == "Role")
    assert kserve_role["rules"][0]["resourceNames"] == ["credit", "churn"]


def test_pods_are_restricted_with_probes_and_one_service_over_both_tracks() -> None:
    stable, canary, service = docs()["serving/credit.yaml"]
    assert canary["spec"]["replicas"] == 0 and stable["spec"]["replicas"] == 4
    pod = stable["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert (
        pod["securityContext"]["runAsNonRoot"]
        and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    )
    sc = c["securityContext"]
    assert (
        sc["readOnlyRootFilesystem"]
        and not sc["allowPrivilegeEscalation"]
        and sc["capabilities"]["drop"] == ["ALL"]
    )
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert (
        c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    )
    assert c["resources"]["requests"] and c["resources"]["limits"]
    # the Service selects both tracks: the canary's share is its share of ready replicas
    for dep in (stable, canary):
        assert service["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert stable["spec"]["selector"] != canary["spec"]["selector"]


def test_the_serving_token_comes_from_a_required_secret() -> None:
    for dep in docs()["serving/credit.yaml"][:2]:
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        token = env["DRIFTLOOP_SERVING__AUTH_TOKEN"]
        assert "value" not in token  # never a literal in the manifest
        assert token["valueFrom"]["secretKeyRef"] == {
            "name": "driftloop-serving",
            "key": "auth-token",
        }  # not optional: without the Secret a server pod does not start, feedback is never open
    # the variable is the one the settings read
    from driftloop.config import load_settings

    settings = load_settings(env={"DRIFTLOOP_SERVING__AUTH_TOKEN": "t0k"})
    assert settings.serving.auth_token.get_secret_value() == "t0k"


def test_feedback_has_its_own_port_admitted_only_from_labelled_namespaces() -> None:
    """Predict (8080) is open to the cluster; the feedback port only to namespaces labelled
    driftloop.io/feedback="true" — and the servers listen for feedback on that port and no other."""
    from pathlib import Path

    from driftloop.config import load_settings
    from workflows.deploy.manifests import FEEDBACK_NAMESPACE_LABEL, FEEDBACK_PORT, PORT

    stable, canary, service = docs()["serving/credit.yaml"]
    for dep in (stable, canary):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"http": PORT, "feedback": FEEDBACK_PORT}
        env = {e["name"]: e.get("value") for e in c["env"]}
        got = load_settings(env={k: v for k, v in env.items() if k.startswith("DRIFTLOOP_SERVING__") and v})
        assert (got.serving.port, got.serving.feedback_port) == (PORT, FEEDBACK_PORT)
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "http": "http",
        "feedback": "feedback",
    }

    policy = Path(__file__).resolve().parents[2] / "manifests" / "base" / "networkpolicy.yaml"
    policies = [d for d in yaml.safe_load_all(policy.read_text()) if d and d["kind"] == "NetworkPolicy"]
    serving = stable["spec"]["template"]["metadata"]["labels"]
    admitted: dict[
        int, list[dict]
    ] = {}  # port -> the `from` peers of every rule that opens it to the servers
    for pol in policies:
        selector = pol["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= serving.items() or "Ingress" not in pol["spec"]["policyTypes"]:
            continue
        for rule in pol["spec"].get("ingress", []):
            for port in rule.get("ports") or [{"port": p} for p in (PORT, FEEDBACK_PORT)]:
                admitted.setdefault(port["port"], []).extend(rule.get("from") or [{}])
    assert {"namespaceSelector": {}} in admitted[PORT]  # predict: any namespace, as before
    assert admitted[FEEDBACK_PORT] == [
        {"namespaceSelector": {"matchLabels": {FEEDBACK_NAMESPACE_LABEL: "true"}}}
    ]


def test_server_pods_drain_before_their_listeners_close() -> None:
    """A rolling update (promote) or a canary scaled to 0 terminates server pods while kube-proxy may
    still route new connections to them: on a real cluster the promote cost the traffic 6 'Connection
    refused'. The pods keep serving (not ready) for serving.drain_s after SIGTERM, inside the grace."""
    from workflows.deploy.manifests import DRAIN_S

    for dep in docs()["serving/credit.yaml"][:2]:
        pod = dep["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        drain = load_settings(
            env={"DRIFTLOOP_SERVING__DRAIN_S": env["DRIFTLOOP_SERVING__DRAIN_S"]}
        ).serving.drain_s
        assert drain == DRAIN_S >= 2
        # the server's own 10 s grace for requests in progress comes after the drain
        assert drain + 10 < pod.get("terminationGracePeriodSeconds", 30)


def test_a_draining_server_is_not_ready_but_still_answers() -> None:
    from types import SimpleNamespace

    from starlette.testclient import TestClient

    from driftloop.serving.app import build_app
    from driftloop.serving.metrics import ServingMetrics

    draining = False
    services = {"credit": SimpleNamespace(slots=SimpleNamespace(ready=True, errors={}))}
    app = build_app(lambda: services, ServingMetrics(), draining=lambda: draining)  # type: ignore[arg-type]
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        draining = True
        reply = client.get("/readyz")
        assert reply.status_code == 503 and reply.json()["draining"] is True
        assert client.get("/v2/health/ready").status_code == 503
        assert client.get("/healthz").status_code == 200  # alive: not restarted while it drains
        assert client.get("/v1/models").json() == {"models": ["credit"]}  # requests still served
