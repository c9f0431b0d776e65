"""The deployable manifests: schema validity, kustomize builds, the security policy, the observability
kit and the Dockerfile.

Validation is :mod:`driftloop.validation` (strict: Argo kinds walked against Hera's models, core kinds
through kubernetes-validate 1.33); ``../shared/tools/validate_manifests.py`` (the official Argo JSON
schemas) adds its verdict on Argo kinds when it sits next to the repository.
The policy rules live in :mod:`tests.policy`; a failure names the object, the field and the rule.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from driftloop.validation import NO_MODEL, check_document
from tests.conftest import kustomize
from tests.policy import check

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
OVERLAYS = sorted(p.name for p in (MANIFESTS / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
VALIDATOR = REPO.parent / "shared" / "tools" / "validate_manifests.py"
ARGO_KINDS = {
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "WorkflowEventBinding",
    "EventBus",
    "EventSource",
    "Sensor",
}
SOURCE_DIRS = ("driftloop", "monitors", "sensors", "workflows")


# --- helpers --------------------------------------------------------------------------------------------
def _yaml_files() -> list[Path]:
    return sorted(
        p for p in MANIFESTS.rglob("*.y*ml") if p.name not in ("kustomization.yaml", "kustomization.yml")
    )


def _file_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@cache
def _shared_validator() -> ModuleType | None:
    """The ../shared validator (official Argo JSON schemas), or None on a clone without it."""
    if not VALIDATOR.is_file():
        return None
    spec = importlib.util.spec_from_file_location("validate_manifests", VALIDATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _errors(doc: Any) -> list[str]:
    """Schema errors of one document (strict: unknown fields are errors, as the API server's strict
    field validation). A kind no schema covers is an error too, except EventBus (Hera has no model for
    it), which only the ../shared validator checks when present."""
    result = check_document(doc)
    errors = list(result.errors)
    if result.skipped and result.kind not in NO_MODEL:
        errors.append(f"{result.kind} {result.name}: not checked: {result.skipped}")
    shared = _shared_validator()
    if shared is not None and result.kind in ARGO_KINDS and str(doc["apiVersion"]).startswith("argoproj.io/"):
        errors += [f"../shared: {e}" for e in shared._argo_errors(doc, True)]
    return errors


def _label(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "?"
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def _report(violations: list[Any]) -> str:
    return "\n".join(str(v) for v in violations)


# --- (a) every document is valid -----------------------------------------------------------------------
@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_manifest_file_validates(path: Path) -> None:
    docs = _file_docs(path)
    assert docs, f"{path} holds no document"
    bad = {f"{path.name}#{i} {_label(d)}": e for i, d in enumerate(docs) if (e := _errors(d))}
    assert not bad, json.dumps(bad, indent=2)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_output_validates(overlay: str) -> None:
    docs = _overlay(overlay)
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "WorkflowTemplate",
        "CronWorkflow",
    } <= kinds
    bad = {_label(d): e for d in docs if (e := _errors(d))}
    assert not bad, json.dumps(bad, indent=2)


def test_validation_catches_an_unknown_field() -> None:
    """The validators are strict: a misspelt field is an error for core and Argo kinds alike."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spek": {}}
    wft = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "x"},
        "spec": {"entrypoint": "a", "templates": [{"name": "a", "container": {"image": "i"}, "retries": 1}]},
    }
    assert _errors(ns) and _errors(wft)


# --- (b) kustomize builds, and nothing under manifests/ is left out ----------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_into_namespace(overlay: str) -> None:
    docs = _overlay(overlay)
    # the one object outside: Argo's controller settings, in Argo's namespace (components/argo-controller)
    argo = [d for d in docs if d["metadata"].get("namespace") == "argo"]
    assert [d["metadata"]["name"] for d in argo] == ["workflow-controller-configmap"]
    assert "templateReferencing: Strict" in argo[0]["data"]["workflowRestrictions"]
    namespaced = [d for d in docs if d["kind"] != "Namespace" and d not in argo]
    assert all(d["metadata"].get("namespace") == "driftloop" for d in namespaced), [
        _label(d) for d in namespaced if d["metadata"].get("namespace") != "driftloop"
    ]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "driftloop-config")
    settings = yaml.safe_load(config["data"]["driftloop.yaml"])
    # A pod has no embedded Kafka / S3: an overlay must name both endpoints.
    assert settings["kafka"]["bootstrap_servers"] and settings["s3"]["endpoint_url"]
    from driftloop.config import load_settings

    assert (
        load_settings(overrides=_flatten(settings), env={}).s3.endpoint_url == settings["s3"]["endpoint_url"]
    )


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _kustomize_resources(directory: Path) -> set[Path]:
    """Files a kustomization (and the kustomizations it includes) pulls in."""
    kfile = directory / "kustomization.yaml"
    data = yaml.safe_load(kfile.read_text())
    out: set[Path] = set()
    for entry in (data.get("resources") or []) + (data.get("components") or []):
        target = (directory / entry).resolve()
        out |= _kustomize_resources(target) if target.is_dir() else {target}
    return out


def test_every_manifest_file_is_deployed() -> None:
    """Each YAML file under manifests/ is a resource of the base or an overlay — a generated file that
    `driftloop compile` adds must be listed in manifests/base/kustomization.yaml."""
    used: set[Path] = set()
    for overlay in OVERLAYS:
        used |= _kustomize_resources(MANIFESTS / "overlays" / overlay)
    missing = [str(p.relative_to(MANIFESTS)) for p in _yaml_files() if p.resolve() not in used]
    assert not missing, f"not in any kustomization (add them to manifests/base/kustomization.yaml): {missing}"


# --- (c) the security policy ----------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_policy_holds_on_overlay(overlay: str) -> None:
    violations = check(_overlay(overlay))
    assert not violations, (
        f"{len(violations)} policy violation(s) in overlays/{overlay}:\n{_report(violations)}"
    )


def test_policy_holds_on_every_file() -> None:
    """Per file too (RBAC bindings resolved across all files), so a file no overlay uses is checked."""
    docs = [d for p in _yaml_files() for d in _file_docs(p)]
    violations = check(docs)
    assert not violations, f"{len(violations)} policy violation(s):\n{_report(violations)}"


# --- (d) the policy test fails when a rule is broken -----------------------------------------------------
def _restricted_deployment() -> dict[str, Any]:
    sc = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    res = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "c",
                            "image": "i",
                            "securityContext": sc,
                            "resources": res,
                            "env": [
                                {
                                    "name": "DRIFTLOOP_S3__SECRET_ACCESS_KEY",
                                    "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                                }
                            ],
                        }
                    ],
                }
            }
        },
    }


def _restricted_template() -> dict[str, Any]:
    dep = _restricted_deployment()["spec"]["template"]["spec"]
    script = {**dep["containers"][0], "source": "print(1)"}
    del script["name"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "w"},
        "spec": {
            "securityContext": dep["securityContext"],
            "entrypoint": "s",
            "templates": [{"name": "s", "script": script}, {"name": "d", "dag": {"tasks": []}}],
        },
    }


def _sensor_rbac() -> list[dict[str, Any]]:
    path = MANIFESTS / "base" / "rbac-sensor.yaml"
    return _file_docs(path)


def _rules(violations: list[Any]) -> set[tuple[str, str]]:
    return {(v.rule, v.field) for v in violations}


def test_policy_accepts_a_compliant_set() -> None:
    assert check([_restricted_deployment(), _restricted_template(), *_sensor_rbac()]) == []


@pytest.mark.parametrize(
    ("mutate", "rule", "field"),
    [
        (
            lambda d: (
                d["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("runAsNonRoot"),
            ),
            "runAsNonRoot",
            "spec.template.spec.containers[0](c).securityContext.runAsNonRoot",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
                readOnlyRootFilesystem=False
            ),
            "readOnlyRootFilesystem",
            "spec.template.spec.containers[0](c).securityContext.readOnlyRootFilesystem",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop(
                "allowPrivilegeEscalation"
            ),
            "allowPrivilegeEscalation",
            "spec.template.spec.containers[0](c).securityContext.allowPrivilegeEscalation",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
                capabilities={"drop": ["NET_RAW"]}
            ),
            "capabilities",
            "spec.template.spec.containers[0](c).securityContext.capabilities.drop",
        ),
        (
            lambda d: (
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("seccompProfile"),
                d["spec"]["template"]["spec"]["securityContext"].update(
                    seccompProfile={"type": "Unconfined"}
                ),
            ),
            "seccomp",
            "spec.template.spec.containers[0](c).securityContext.seccompProfile.type",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
            "resources",
            "spec.template.spec.containers[0](c).resources.limits",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append(
                {"name": "KAFKA_PASSWORD", "value": "hunter2"}
            ),
            "secret-value",
            "spec.template.spec.containers[0](c).env[1](KAFKA_PASSWORD).value",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].__setitem__(
                0, {"name": "API_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "t"}}}
            ),
            "secret-value",
            "spec.template.spec.containers[0](c).env[0](API_TOKEN).valueFrom",
        ),
    ],
    ids=[
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "capabilities",
        "seccomp",
        "limits",
        "plain-password",
        "token-from-configmap",
    ],
)
def test_policy_reports_a_broken_pod_rule(mutate: Any, rule: str, field: str) -> None:
    doc = _restricted_deployment()
    mutate(doc)
    found = check([doc])
    assert (rule, field) in _rules(found), _report(found)


def test_policy_reports_broken_workflow_templates() -> None:
    base = _restricted_template()
    no_root = copy.deepcopy(base)
    no_root["spec"]["securityContext"].pop("runAsNonRoot")
    no_root["spec"]["templates"][0]["script"]["securityContext"].pop("runAsNonRoot")
    assert ("runAsNonRoot", "spec.templates[0](s).script.securityContext.runAsNonRoot") in _rules(
        check([no_root])
    )
    # A template-level securityContext or the workflow's podSpecPatch can undo the workflow's settings.
    rooted = copy.deepcopy(base)
    rooted["spec"]["templates"][0]["securityContext"] = {"runAsUser": 0}
    assert ("runAsNonRoot", "spec.templates[0](s).script.securityContext.runAsUser") in _rules(
        check([rooted])
    )
    patched = copy.deepcopy(base)
    patched["spec"]["podSpecPatch"] = json.dumps(
        {"containers": [{"name": "main", "env": [{"name": "S3_SECRET_KEY", "value": "abc"}]}]}
    )
    assert ("secret-value", "spec.templates[0](s).script.env[1](S3_SECRET_KEY).value") in _rules(
        check([patched])
    )
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "c"},
        "spec": {"schedules": ["0 * * * *"], "workflowSpec": copy.deepcopy(no_root["spec"])},
    }
    assert (
        "runAsNonRoot",
        "spec.workflowSpec.templates[0](s).script.securityContext.runAsNonRoot",
    ) in _rules(check([cron]))
    password_param = copy.deepcopy(base)
    password_param["spec"]["arguments"] = {"parameters": [{"name": "db_password", "value": "x"}]}
    assert "secret-value" in {v.rule for v in check([password_param])}


def test_policy_reports_broken_rbac_and_secrets() -> None:
    sa, role, binding = _sensor_rbac()
    wide = copy.deepcopy(role)
    wide["rules"][0]["verbs"] = ["*"]
    assert {("no-wildcard", "rules[0].verbs"), ("sensor-create-only", "rules[0]")} <= _rules(
        check([sa, wide, binding])
    )
    reader = copy.deepcopy(role)
    reader["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    assert {("no-secrets", "rules[1].resources"), ("sensor-create-only", "rules[1]")} <= _rules(
        check([sa, reader, binding])
    )
    cluster = {**copy.deepcopy(role), "kind": "ClusterRole"}
    assert ("no-cluster-role", "kind") in _rules(check([cluster]))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
    assert ("secret-value", "data") in _rules(check([secret]))
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "driftloop-config"},
        "data": {"driftloop.yaml": "s3:\n  secret_access_key: abc\n"},
    }
    assert ("secret-value", "data.driftloop.yaml.s3.secret_access_key") in _rules(check([config]))


def test_policy_reports_a_sensor_that_needs_more_than_create() -> None:
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "template": {"serviceAccountName": "driftloop-workflow"},
            "triggers": [{"template": {"name": "t", "argoWorkflow": {"operation": "submit"}}}],
        },
    }
    rules = _rules(check([sensor]))
    assert ("sensor-create-only", "spec.template.serviceAccountName") in rules
    assert ("sensor-create-only", "spec.triggers[0].template.argoWorkflow") in rules
    # ... and the Sensor's pod is held to the same rules as any other pod.
    assert ("runAsNonRoot", "spec.template.container.securityContext.runAsNonRoot") in rules


@pytest.mark.parametrize(
    ("operation", "kind"), [("update", "Workflow"), ("create", "Deployment"), ("patch", "Workflow")]
)
def test_policy_reports_a_k8s_trigger_that_does_more_than_create_workflows(operation: str, kind: str) -> None:
    resource = {"apiVersion": "argoproj.io/v1alpha1" if kind == "Workflow" else "apps/v1", "kind": kind}
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "template": {"serviceAccountName": "driftloop-sensor"},
            "triggers": [
                {"template": {"name": "t", "k8s": {"operation": operation, "source": {"resource": resource}}}}
            ],
        },
    }
    assert ("sensor-create-only", "spec.triggers[0].template.k8s") in _rules(check([sensor]))


# --- observability kit ----------------------------------------------------------------------------------
OBSERVABILITY = MANIFESTS / "base" / "observability"
_METRIC = re.compile(r"\b(driftloop_[a-z0-9_]+)")
_SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total")


def _dashboard() -> dict[str, Any]:
    return json.loads((OBSERVABILITY / "driftloop-dashboard.json").read_text())


def _alert_rules() -> dict[str, Any]:
    (config,) = _file_docs(OBSERVABILITY / "alerts.yaml")
    return yaml.safe_load(config["data"]["driftloop.rules.yaml"])


@cache
def _source_text() -> str:
    return "\n".join(
        p.read_text(errors="replace") for d in SOURCE_DIRS for p in sorted((REPO / d).rglob("*.py"))
    )


def _defined(metric: str) -> bool:
    """A PromQL name exists in the code: prometheus_client adds _total to counters (stripping it from
    the given name first) and _bucket/_sum/_count to histograms."""
    names = {metric}
    for suffix in _SUFFIXES:
        if metric.endswith(suffix):
            base = metric[: -len(suffix)]
            names |= {base, f"{base}_total"} if suffix != "_total" else {base}
    return any(re.search(rf"[\"']{re.escape(n)}[\"']", _source_text()) for n in names)


def test_dashboard_and_alerts_parse() -> None:
    dash = _dashboard()
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert dash["uid"] == "driftloop" and len(panels) >= 10
    assert all(t["expr"] for p in panels for t in p["targets"])
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    alerts = {r["alert"]: r for g in _alert_rules()["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "DriftloopDriftDetected",
        "DriftloopRetrainFailed",
        "DriftloopDeadLettersGrowing",
        "DriftloopStormBreakerTripped",
    }
    assert all(r["expr"] and r["annotations"]["summary"] for r in alerts.values())


def test_every_metric_of_the_kit_exists_in_the_code() -> None:
    exprs = [t["expr"] for p in _dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"] for v in _dashboard()["templating"]["list"] if isinstance(v.get("query"), dict)
    ]
    exprs += [r["expr"] for g in _alert_rules()["groups"] for r in g["rules"]]
    named = {m for e in exprs for m in _METRIC.findall(e)}
    assert len(named) >= 12
    missing = sorted(m for m in named if not _defined(m))
    assert not missing, f"metrics the dashboard / alerts use that no code defines: {missing}"


def test_metric_check_tells_defined_from_undefined() -> None:
    assert _defined("driftloop_serving_request_latency_seconds_bucket")
    assert _defined("driftloop_serving_requests_total")  # Counter("driftloop_serving_requests")
    assert _defined("driftloop_monitor_checks_total")  # Counter("driftloop_monitor_checks_total")
    assert not _defined("driftloop_serving_no_such_metric_total")


# --- the image ------------------------------------------------------------------------------------------
def _dockerfile() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_copies_what_the_wheel_build_reads() -> None:
    """`pip install .` in the build stage needs every package and force-included tree of the wheel target
    (an image built for the real cluster failed with "Forced include not found: /src/manifests")."""
    import tomllib

    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = set(wheel["packages"]) | set(wheel.get("force-include", {}))
    copied = {
        rest.split()[0].rstrip("/") for word, rest in _dockerfile() if word == "COPY" and "--from" not in rest
    }
    assert needed <= copied, f"the Dockerfile does not COPY {sorted(needed - copied)}"


def test_dockerfile_is_slim_non_root_and_runtime_only() -> None:
    instructions = _dockerfile()
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", b) for b in bases), bases
    final = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    users = [rest for word, rest in instructions[final:] if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), (
        f"USER must be a non-root numeric id: {users}"
    )
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "pip install ." in runs and "[dev]" not in runs and ".[" not in runs
    assert not any(word == "HEALTHCHECK" for word, _ in instructions)
    entry = [rest for word, rest in instructions if word == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["driftloop"]
    # The final stage installs nothing: it copies the virtualenv built in the first stage.
    assert not any(word == "RUN" and "pip" in rest for word, rest in instructions[final:])
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "*" in ignored and "!driftloop/" in ignored


@cache
def _overlay(overlay: str) -> list[Any]:
    return kustomize(MANIFESTS / "overlays" / overlay)
