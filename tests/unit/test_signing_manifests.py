"""The signing key reaches only the steps that sign — checked on the committed (compiled) manifests.

The train and evaluate steps run the user's code (evaluate unpickles the models, whose classes are the
user's) and the model server answers the network: they get only the verify key.
Everything a pod's container sees is its template's own ``env`` plus what the credentials component
patches in (the WorkflowTemplates' ``podSpecPatch``, the serving Deployments' env), so both are read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
DRIFTLOOP_IMAGE = "ghcr.io/driftloop/driftloop:"
SIGNERS = {
    "register",
    "deploy-canary",
    "analyze-canary",
    "canary-step",
    "request-approval",
    "check-approval",
    "promote",
    "rollback",
    "publish-outcome",
}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _component_env() -> dict[str, list[dict[str, Any]]]:
    """What the credentials component adds: ``workflow`` (every step's podSpecPatch) and ``serving``."""
    component = _docs(MANIFESTS / "components" / "credentials" / "kustomization.yaml")[0]
    out: dict[str, list[dict[str, Any]]] = {"workflow": [], "serving": []}
    for patch in component["patches"]:
        ops = yaml.safe_load(patch["patch"])
        if patch["target"]["kind"] == "WorkflowTemplate":
            spec = yaml.safe_load(ops[0]["value"])
            out["workflow"] += [e for c in spec["containers"] for e in c.get("env", [])]
        else:
            out["serving"] += [op["value"] for op in ops if op["path"].endswith("/env/-")]
    return out


def _holds_signing_key(env: list[dict[str, Any]]) -> bool:
    for var in env:
        ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
        if "SIGNING_KEY" in var["name"] or ref.get("name") == "driftloop-signing":
            return True
    return False


def _templates() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((MANIFESTS / "base" / "generated" / "workflows").glob("*.yaml")):
        for doc in _docs(path):
            spec = doc.get("spec", {})
            spec = spec.get("workflowSpec", spec)  # a CronWorkflow
            for tmpl in spec.get("templates", []):
                out[f"{path.name}:{tmpl['name']}"] = tmpl
    return out


def test_the_train_step_and_the_server_have_no_signing_key() -> None:
    component = _component_env()
    assert not _holds_signing_key(component["workflow"]), "every step's podSpecPatch holds the signing key"
    assert not _holds_signing_key(component["serving"]), "the model servers hold the signing key"
    assert any(v["name"] == "DRIFTLOOP_REGISTRY__VERIFY_KEY" for v in component["workflow"])
    assert any(v["name"] == "DRIFTLOOP_REGISTRY__VERIFY_KEY" for v in component["serving"])

    templates = _templates()
    trains = [t for name, t in templates.items() if name.endswith(":train")]
    assert trains, "no train template compiled"
    for tmpl in trains:
        container = tmpl.get("script") or tmpl.get("container") or {}
        assert not _holds_signing_key(container.get("env", []) + component["workflow"])
    for path in sorted((MANIFESTS / "base" / "generated" / "serving").glob("*.yaml")):
        for doc in _docs(path):
            if doc.get("kind") != "Deployment":
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert not _holds_signing_key(container.get("env", []) + component["serving"]), path.name


def test_only_the_signing_steps_get_the_signing_key() -> None:
    holders = set()
    for name, tmpl in _templates().items():
        container = tmpl.get("script") or tmpl.get("container") or {}
        if _holds_signing_key(container.get("env", [])):
            holders.add(name.split(":", 1)[1])
    assert holders <= SIGNERS, holders - SIGNERS
    assert {"register", "deploy-canary", "promote", "rollback"} <= holders


def test_no_template_running_the_users_image_holds_the_signing_key() -> None:
    """The steps that run the user's code (preprocess, train, and evaluate, which unpickles the models) and
    every template on a model's own image are keyless; ``register``, which signs the challenger's version,
    runs driftloop's image."""
    component = _component_env()["workflow"]
    templates = _templates()
    # a model's image is its train step's image (driftloop's own when the model names none)
    model_images = {
        name.split(":", 1)[0]: t["script"]["image"]
        for name, t in templates.items()
        if name.endswith(":train") and not t["script"]["image"].startswith(DRIFTLOOP_IMAGE)
    }
    user_steps = set()
    for name, tmpl in templates.items():
        container = tmpl.get("script") or tmpl.get("container") or {}
        file, step = name.split(":", 1)
        if step in ("preprocess", "train", "evaluate") or container.get("image") == model_images.get(file):
            user_steps.add(step)
            assert not _holds_signing_key(container.get("env", []) + component), name
    assert {"preprocess", "train", "evaluate"} <= user_steps
    registers = [t for name, t in templates.items() if name.endswith(":register")]
    assert registers, "no register template compiled"
    for tmpl in registers:
        assert _holds_signing_key(tmpl["script"].get("env", []))
        assert tmpl["script"]["image"].startswith(DRIFTLOOP_IMAGE), tmpl["script"]["image"]


def test_no_patch_on_deployments_from_steps_that_run_user_code() -> None:
    """Only ``driftloop-deploy`` may patch the server Deployments; train and evaluate never run as it."""
    patchers = set()
    docs = [d for p in sorted(MANIFESTS.glob("base/**/*.yaml")) for d in _docs(p) if isinstance(d, dict)]
    roles = {
        d["metadata"]["name"]
        for d in docs
        if d.get("kind") == "Role"
        and any("deployments" in r.get("resources", []) and "patch" in r.get("verbs", []) for r in d["rules"])
    }
    for d in docs:
        if d.get("kind") == "RoleBinding" and d["roleRef"]["name"] in roles:
            patchers |= {s["name"] for s in d["subjects"]}
    assert patchers == {"driftloop-deploy"}
    for name, tmpl in _templates().items():
        step = name.split(":", 1)[1]
        if step in ("train", "evaluate", "register", "preprocess", "validate-data"):
            assert tmpl.get("serviceAccountName") in (None, "driftloop-workflow"), name
        if step in ("deploy-canary", "promote", "rollback"):
            assert tmpl.get("serviceAccountName") == "driftloop-deploy", name


def test_the_namespace_enforces_restricted_and_argo_references_templates_strictly() -> None:
    namespace = _docs(MANIFESTS / "base" / "namespace.yaml")[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    config = _docs(MANIFESTS / "components" / "argo-controller" / "workflow-controller-configmap.yaml")[0]
    assert yaml.safe_load(config["data"]["workflowRestrictions"]) == {"templateReferencing": "Strict"}
    executor = yaml.safe_load(config["data"]["executor"])["securityContext"]
    assert executor["runAsNonRoot"] and not executor["allowPrivilegeEscalation"]
    assert executor["capabilities"]["drop"] == ["ALL"]
    assert executor["seccompProfile"]["type"] == "RuntimeDefault"
    # the init container writes the input artifacts a step reads: the same uid, or the step cannot
    from workflows.pod import RUN_AS_USER

    assert executor["runAsUser"] == RUN_AS_USER
    for overlay in ("local-cluster", "production"):
        kustomization = _docs(MANIFESTS / "overlays" / overlay / "kustomization.yaml")[0]
        assert "../../components/argo-controller" in kustomization["components"]


def test_egress_is_narrowed() -> None:
    """The model servers cannot reach the Kubernetes API; local-cluster reaches Kafka and MinIO only in
    their namespaces."""
    from tests.conftest import kustomize

    docs = kustomize(MANIFESTS / "overlays" / "local-cluster")
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    api = policies["allow-egress-kube-api"]["spec"]["podSelector"]
    assert {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["driftloop-serving"]} in (
        api.get("matchExpressions") or []
    )
    for rule in policies["allow-egress-kafka-s3"]["spec"]["egress"]:
        assert rule.get("to"), "Kafka / S3 egress open to any destination"


def test_production_egress_goes_only_to_the_configured_endpoints() -> None:
    """No egress rule of the production overlay is open to any destination: Kafka, S3 and the API server
    are reached only at the CIDRs the overlay names (documentation ranges until the platform team's)."""
    import ipaddress

    from tests.conftest import kustomize

    docs = kustomize(MANIFESTS / "overlays" / "production")
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and "Egress" in d["spec"]["policyTypes"]]
    assert {p["metadata"]["name"] for p in policies} >= {"allow-egress-kafka-s3", "allow-egress-kube-api"}
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            assert rule.get("to"), f"{policy['metadata']['name']}: egress open to any destination"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    net = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    assert net.prefixlen >= 16, f"{policy['metadata']['name']}: {net} is not an endpoint"
    by_name = {p["metadata"]["name"]: p for p in policies}
    ports = {
        port["port"]
        for name in ("allow-egress-kafka-s3", "allow-egress-kube-api")
        for rule in by_name[name]["spec"]["egress"]
        for port in rule["ports"]
    }
    assert ports == {9093, 443, 6443}
