"""The security policy every manifest must meet: a test helper (not product code), used by
``tests/unit/test_manifests.py``.

:func:`check` takes Kubernetes / Argo documents (plain dicts) and returns every :class:`Violation`,
each naming the object, the exact field and the rule, so a failing test says what to change. Rules:

* pods (core workloads, Argo Workflows templates, Argo Events pods): ``runAsNonRoot``,
  ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation: false``, capabilities drop ``ALL``, seccomp
  ``RuntimeDefault`` (pod or container level), no ``privileged``, requests and limits (cpu, memory) on
  every container;
* RBAC: no ClusterRole / ClusterRoleBinding, no ``*`` anywhere in a rule, no access to ``secrets``; the
  Sensor's account may only ``create`` ``workflows``; the Sensor runs as that account and triggers
  with a ``k8s`` create (the ``argoWorkflow`` trigger shells out to ``argo submit`` and lists workflows,
  which the create-only Role does not allow);
* secrets: no ``Secret`` carrying ``data`` / ``stringData``; no env ``value`` (or ConfigMap key, or
  workflow parameter) whose name says password / token / secret key; credentials in env come only from
  ``secretKeyRef``.

Argo Workflows: the pod security context is ``spec.securityContext`` (or ``workflowSpec`` of a
CronWorkflow) overlaid by each template's ``securityContext`` and by ``spec.podSpecPatch``; a template's
container is its ``container`` / ``script`` / ``containerSet`` / ``initContainers`` / ``sidecars``,
overlaid on ``spec.templateDefaults``. Templates that run no pod of ours (dag, steps, suspend) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["SENSOR_ACCOUNT", "Violation", "check"]

SENSOR_ACCOUNT = "driftloop-sensor"

POD_KINDS = {"Pod": ("spec",)}
WORKLOAD_KINDS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **POD_KINDS,
}
WORKFLOW_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"}
_TEMPLATE_CONTAINER_KEYS = ("container", "script")
_SECRET_NAME = re.compile(
    r"(password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|credential)", re.IGNORECASE
)
_SECRET_CONFIG_KEY = re.compile(
    r"^(password|passwd|secret|token|api_?key|secret_?access_?key|sasl_password|private_?key)$", re.IGNORECASE
)
_RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class Violation:
    obj: str  # Kind/name
    field: str  # dotted path inside the object
    rule: str  # short rule id, e.g. "runAsNonRoot"
    message: str

    def __str__(self) -> str:
        return f"{self.obj} {self.field}: [{self.rule}] {self.message}"


def _ident(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


def _get(node: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _merge(base: Any, top: Any) -> Any:
    """Strategic-merge-like overlay for the fields the policy reads: dicts merge, lists of named items
    (env, containers) merge by name, anything else is replaced."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = _merge(out.get(key), value)
        return out
    if (
        isinstance(base, list)
        and isinstance(top, list)
        and all(isinstance(i, dict) and "name" in i for i in base + top)
    ):
        merged = {i["name"]: i for i in base}
        for item in top:
            merged[item["name"]] = _merge(merged.get(item["name"]), item)
        return list(merged.values())
    return base if top is None else top


class _Checker:
    def __init__(self, docs: list[dict[str, Any]], sensor_account: str) -> None:
        self.docs = docs
        self.sensor_account = sensor_account
        self.out: list[Violation] = []

    def add(self, doc: dict[str, Any], field: str, rule: str, message: str) -> None:
        self.out.append(Violation(_ident(doc), field, rule, message))

    # --- pods -----------------------------------------------------------------------------------------
    def pod(
        self,
        doc: dict[str, Any],
        where: str,
        pod_sc: dict[str, Any] | None,
        containers: list[tuple[str, dict[str, Any]]],
    ) -> None:
        pod_sc = pod_sc or {}
        if not containers:
            return
        for cwhere, c in containers:
            sc = c.get("securityContext") or {}
            eff = _merge(pod_sc, sc)
            if eff.get("runAsNonRoot") is not True:
                self.add(
                    doc,
                    f"{cwhere}.securityContext.runAsNonRoot",
                    "runAsNonRoot",
                    "must be true (here or in the pod securityContext)",
                )
            if eff.get("runAsUser") == 0:
                self.add(doc, f"{cwhere}.securityContext.runAsUser", "runAsNonRoot", "must not be 0")
            if (_get(eff, ("seccompProfile", "type"))) != "RuntimeDefault":
                self.add(
                    doc,
                    f"{cwhere}.securityContext.seccompProfile.type",
                    "seccomp",
                    "must be RuntimeDefault (here or in the pod securityContext)",
                )
            if sc.get("readOnlyRootFilesystem") is not True:
                self.add(
                    doc,
                    f"{cwhere}.securityContext.readOnlyRootFilesystem",
                    "readOnlyRootFilesystem",
                    "must be true (mount an emptyDir for scratch)",
                )
            if sc.get("allowPrivilegeEscalation") is not False:
                self.add(
                    doc,
                    f"{cwhere}.securityContext.allowPrivilegeEscalation",
                    "allowPrivilegeEscalation",
                    "must be false",
                )
            if sc.get("privileged"):
                self.add(doc, f"{cwhere}.securityContext.privileged", "privileged", "must not be true")
            drop = _get(sc, ("capabilities", "drop")) or []
            if "ALL" not in drop:
                self.add(
                    doc, f"{cwhere}.securityContext.capabilities.drop", "capabilities", "must contain ALL"
                )
            if _get(sc, ("capabilities", "add")):
                self.add(doc, f"{cwhere}.securityContext.capabilities.add", "capabilities", "must be empty")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                missing = [r for r in _RESOURCES if not (res.get(kind) or {}).get(r)]
                if missing:
                    self.add(doc, f"{cwhere}.resources.{kind}", "resources", f"missing {', '.join(missing)}")
            self.env(doc, cwhere, c)

    def env(self, doc: dict[str, Any], where: str, container: dict[str, Any]) -> None:
        for i, e in enumerate(container.get("env") or []):
            name = str(e.get("name", ""))
            if not _SECRET_NAME.search(name):
                continue
            field = f"{where}.env[{i}]({name})"
            if e.get("value"):
                self.add(
                    doc,
                    f"{field}.value",
                    "secret-value",
                    "a credential as a plain value: use valueFrom.secretKeyRef",
                )
            elif "valueFrom" in e and "secretKeyRef" not in e["valueFrom"]:
                self.add(doc, f"{field}.valueFrom", "secret-value", "credentials come only from secretKeyRef")

    def workload(self, doc: dict[str, Any], path: tuple[str, ...]) -> None:
        spec = _get(doc, path)
        if not isinstance(spec, dict):
            return
        where = ".".join(path)
        containers = [
            (f"{where}.{group}[{i}]({c.get('name', '?')})", c)
            for group in ("initContainers", "containers", "ephemeralContainers")
            for i, c in enumerate(spec.get(group) or [])
        ]
        self.pod(doc, where, spec.get("securityContext"), containers)

    def workflow(self, doc: dict[str, Any], spec: dict[str, Any], where: str) -> None:
        patch: dict[str, Any] = {}
        if spec.get("podSpecPatch"):
            try:
                patch = yaml.safe_load(spec["podSpecPatch"]) or {}
            except yaml.YAMLError:
                self.add(doc, f"{where}.podSpecPatch", "podSpecPatch", "is not valid YAML/JSON")
        patch_main = next((c for c in patch.get("containers") or [] if c.get("name") == "main"), {})
        pod_sc = _merge(spec.get("securityContext"), patch.get("securityContext"))
        defaults = spec.get("templateDefaults") or {}
        for i, t in enumerate(spec.get("templates") or []):
            twhere = f"{where}.templates[{i}]({t.get('name', '?')})"
            containers: list[tuple[str, dict[str, Any]]] = []
            for key in _TEMPLATE_CONTAINER_KEYS:
                if key in t:
                    main = _merge(_merge(defaults.get(key), t[key]), patch_main)
                    containers.append((f"{twhere}.{key}", main))
            for j, c in enumerate(_get(t, ("containerSet", "containers")) or []):
                containers.append((f"{twhere}.containerSet.containers[{j}]", c))
            if containers:
                for group in ("initContainers", "sidecars"):
                    for j, c in enumerate(t.get(group) or []):
                        containers.append((f"{twhere}.{group}[{j}]", c))
            self.pod(doc, twhere, _merge(pod_sc, t.get("securityContext")), containers)
        self.parameters(doc, spec, where)

    def parameters(self, doc: dict[str, Any], spec: dict[str, Any], where: str) -> None:
        for i, p in enumerate(_get(spec, ("arguments", "parameters")) or []):
            name = str(p.get("name", ""))
            if _SECRET_NAME.search(name) and (p.get("value") or p.get("default")):
                self.add(
                    doc,
                    f"{where}.arguments.parameters[{i}]({name})",
                    "secret-value",
                    "a credential as a workflow parameter value",
                )

    def events_pod(self, doc: dict[str, Any]) -> None:
        """Sensor / EventSource: ``spec.template`` is the pod (``securityContext``) and its one
        ``container``. The EventBus (JetStream) has a pod ``securityContext`` and three container
        templates."""
        spec = doc.get("spec") or {}
        if doc["kind"] == "EventBus":
            js = spec.get("jetstream")
            if not isinstance(js, dict):
                return
            containers = [
                (f"spec.jetstream.{key}", js.get(key) or {})
                for key in ("containerTemplate", "reloaderContainerTemplate", "metricsContainerTemplate")
            ]
            self.pod(doc, "spec.jetstream", js.get("securityContext"), containers)
            return
        template = spec.get("template") or {}
        self.pod(
            doc,
            "spec.template",
            template.get("securityContext"),
            [("spec.template.container", template.get("container") or {})],
        )

    # --- RBAC -----------------------------------------------------------------------------------------
    def rbac(self) -> None:
        roles = {(d.get("metadata") or {}).get("name"): d for d in self.docs if d.get("kind") == "Role"}
        for doc in self.docs:
            kind = doc.get("kind")
            if kind in ("ClusterRole", "ClusterRoleBinding"):
                self.add(doc, "kind", "no-cluster-role", "use a namespaced Role / RoleBinding")
            if kind in ("Role", "ClusterRole"):
                for i, rule in enumerate(doc.get("rules") or []):
                    for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                        if any("*" in str(v) for v in rule.get(key) or []):
                            self.add(doc, f"rules[{i}].{key}", "no-wildcard", "no '*' in RBAC rules")
                    if any(str(r).split("/")[0] == "secrets" for r in rule.get("resources") or []):
                        self.add(doc, f"rules[{i}].resources", "no-secrets", "no access to Secrets")
            if kind in ("RoleBinding", "ClusterRoleBinding"):
                bound = [
                    s
                    for s in doc.get("subjects") or []
                    if s.get("kind") == "ServiceAccount" and s.get("name") == self.sensor_account
                ]
                if not bound:
                    continue
                ref = doc.get("roleRef") or {}
                role = roles.get(ref.get("name")) if ref.get("kind") == "Role" else None
                if role is None:
                    self.add(
                        doc,
                        "roleRef",
                        "sensor-create-only",
                        f"{self.sensor_account} may only be bound to a Role of this set",
                    )
                    continue
                for i, rule in enumerate(role.get("rules") or []):
                    if (
                        sorted(rule.get("apiGroups") or []) != ["argoproj.io"]
                        or sorted(rule.get("resources") or []) != ["workflows"]
                        or sorted(rule.get("verbs") or []) != ["create"]
                    ):
                        self.add(
                            role,
                            f"rules[{i}]",
                            "sensor-create-only",
                            f"{self.sensor_account} may only create argoproj.io workflows, got {rule}",
                        )

    def sensor(self, doc: dict[str, Any]) -> None:
        spec = doc.get("spec") or {}
        account = _get(spec, ("template", "serviceAccountName"))
        if account != self.sensor_account:
            self.add(
                doc,
                "spec.template.serviceAccountName",
                "sensor-create-only",
                f"must be {self.sensor_account!r} (the create-only account), got {account!r}",
            )
        for i, trig in enumerate(spec.get("triggers") or []):
            tpl = trig.get("template") or {}
            where = f"spec.triggers[{i}].template"
            if "argoWorkflow" in tpl:
                self.add(
                    doc,
                    f"{where}.argoWorkflow",
                    "sensor-create-only",
                    "the argoWorkflow trigger runs `argo submit` and lists workflows; use a k8s trigger "
                    "with operation create and a Workflow as source.resource",
                )
            k8s = tpl.get("k8s")
            if isinstance(k8s, dict):
                # Argo Events 1.x derives what to create from source.resource's apiVersion/kind
                # (standard-k8s GetGroupVersionResource); it has no group/version/resource fields.
                obj = (k8s.get("source") or {}).get("resource") or {}
                group = str(obj.get("apiVersion", "")).split("/")[0]
                creates_workflow = group == "argoproj.io" and obj.get("kind") == "Workflow"
                if not creates_workflow or (k8s.get("operation") or "create") != "create":
                    self.add(
                        doc,
                        f"{where}.k8s",
                        "sensor-create-only",
                        "the Sensor's k8s trigger may only create workflows",
                    )
                if k8s.get("liveObject") or (trig.get("policy") or {}).get("k8s"):
                    self.add(
                        doc,
                        f"{where}.k8s",
                        "sensor-create-only",
                        "liveObject / a k8s trigger policy read objects back: the account may only create",
                    )

    # --- secrets --------------------------------------------------------------------------------------
    def secrets(self, doc: dict[str, Any]) -> None:
        kind = doc.get("kind")
        if kind == "Secret" and (doc.get("data") or doc.get("stringData")):
            self.add(doc, "data", "secret-value", "ship no Secret values: document the Secret to create")
        if kind == "ConfigMap":
            for key, text in (doc.get("data") or {}).items():
                if _SECRET_CONFIG_KEY.search(key) and text:
                    self.add(doc, f"data.{key}", "secret-value", "a credential in a ConfigMap")
                elif key.endswith((".yaml", ".yml")):
                    try:
                        parsed = yaml.safe_load(text)
                    except yaml.YAMLError:
                        continue
                    for path, value in _walk(parsed, f"data.{key}"):
                        if (
                            _SECRET_CONFIG_KEY.search(path.rsplit(".", 1)[-1])
                            and isinstance(value, str)
                            and value
                        ):
                            self.add(doc, path, "secret-value", "a credential in a ConfigMap")

    def run(self) -> list[Violation]:
        for doc in self.docs:
            kind = doc.get("kind")
            if kind in WORKLOAD_KINDS:
                self.workload(doc, WORKLOAD_KINDS[kind])
            elif kind in WORKFLOW_KINDS:
                self.workflow(doc, doc.get("spec") or {}, "spec")
            elif kind == "CronWorkflow":
                self.workflow(doc, _get(doc, ("spec", "workflowSpec")) or {}, "spec.workflowSpec")
            elif kind in ("Sensor", "EventSource", "EventBus"):
                self.events_pod(doc)
            if kind == "Sensor":
                self.sensor(doc)
            self.secrets(doc)
        self.rbac()
        return self.out


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")
    else:
        yield path, node


def check(docs: Iterable[dict[str, Any]], sensor_account: str = SENSOR_ACCOUNT) -> list[Violation]:
    """Every policy violation in ``docs`` (one set of objects, e.g. one ``kubectl kustomize`` output:
    RoleBindings are resolved against the Roles of the same set)."""
    return _Checker([d for d in docs if isinstance(d, dict)], sensor_account).run()
