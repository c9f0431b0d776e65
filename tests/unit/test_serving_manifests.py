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
