"""Submit a workflow to a real Argo Server through Hera's ``WorkflowsService``.

``POST /api/v1/workflows/{namespace}`` with ``{"workflow": {...}}`` and ``Authorization: Bearer <token>``:
either a Workflow that refers to a WorkflowTemplate by name (``spec.workflowTemplateRef``), or the
Workflow in a YAML file (a WorkflowTemplate file is submitted as a Workflow with its spec). A retrain
triggered by an event gets the deterministic name ``retrain-<model>-<sha256(event id)[:10]>``, so
submitting the same event twice finds the first run (HTTP 409) instead of starting a second one.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.contracts import retrain_template, run_name
from driftloop.errors import ConfigError, ConnectionError_, UsageError, WorkflowError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["Submission", "build_workflow", "submit", "wait"]

FINISHED = ("Succeeded", "Failed", "Error")


@dataclass
class Submission:
    name: str
    namespace: str
    uid: str
    created: bool  # False: a workflow of that name already existed (redelivered event)
    phase: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "created": self.created,
            "phase": self.phase,
        }


def _load_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}", "fix the file") from None
    runnable = [d for d in docs if d.get("kind") in ("Workflow", "WorkflowTemplate")]
    if len(runnable) != 1:
        raise UsageError(
            f"{path} holds {len(runnable)} Workflow/WorkflowTemplate documents", "give exactly one"
        )
    return runnable[0]


def build_workflow(name_or_file: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    """The Workflow manifest to submit for a template name or a YAML file, with ``parameters`` set."""
    path = Path(name_or_file)
    labels = {"app.kubernetes.io/name": "driftloop"}
    annotations: dict[str, str] = {}
    if parameters.get("model"):
        labels["driftloop.io/model"] = parameters["model"]
    if parameters.get("reason"):
        labels["driftloop.io/reason"] = parameters["reason"]
    if parameters.get("event_id"):
        annotations["driftloop.io/event-id"] = parameters["event_id"]
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise UsageError(f"{path}: no such file", "pass a WorkflowTemplate name or an existing YAML file")
        doc = _load_file(path)
        spec: dict[str, Any] = copy.deepcopy(doc.get("spec") or {})
        meta = doc.get("metadata") or {}
        metadata: dict[str, Any] = {}
        if doc["kind"] == "Workflow" and meta.get("name"):
            metadata["name"] = meta["name"]
        else:
            metadata["generateName"] = meta.get("generateName") or f"{meta.get('name', 'workflow')}-"
        metadata["labels"] = {**(meta.get("labels") or {}), **labels}
        if annotations or meta.get("annotations"):
            metadata["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        declared = {p["name"] for p in (spec.get("arguments") or {}).get("parameters") or []}
        unknown = sorted(set(parameters) - declared)
        if unknown:
            raise UsageError(
                f"{path} declares no parameter {unknown[0]!r}",
                f"declared: {', '.join(sorted(declared)) or 'none'}",
            )
        for p in (spec.get("arguments") or {}).get("parameters") or []:
            if p["name"] in parameters:
                p["value"] = str(parameters[p["name"]])
                p.pop("valueFrom", None)
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata, "spec": spec}
    template = name_or_file
    metadata = {"labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    model = parameters.get("model", "")
    if model and template == retrain_template(model) and parameters.get("event_id"):
        metadata["name"] = run_name(parameters["model"], parameters["event_id"])
    else:
        metadata["generateName"] = f"{template}-"
    spec = {"workflowTemplateRef": {"name": template}}
    if parameters:
        spec["arguments"] = {"parameters": [{"name": k, "value": str(v)} for k, v in parameters.items()]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata, "spec": spec}


def _service(settings: Settings, server: str | None, token: str | None) -> Any:
    from hera.workflows import WorkflowsService

    url = server or settings.argo.server_url
    if not url:
        raise ConfigError("no Argo Server URL", "pass --argo-server URL or set argo.server_url")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"Argo Server URL {url!r} has no scheme", "write it as https://host:2746")
    tok = token if token is not None else settings.argo.token.get_secret_value()
    return WorkflowsService(
        host=url.rstrip("/") + "/", token=tok or None, verify_ssl=settings.argo.verify_ssl
    )


def _call(what: str, url: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the Argo Server; map transport and HTTP errors to driftloop errors (409 passes through)."""
    import requests
    from hera.exceptions import AlreadyExists, HeraException, Unauthorized

    try:
        return fn(*args, **kwargs)
    except requests.ConnectionError as exc:
        raise ConnectionError_(
            f"Argo Server at {url} is unreachable ({type(exc).__name__})",
            "check --argo-server / argo.server_url",
        ) from None
    except AlreadyExists:
        raise
    except Unauthorized:
        raise WorkflowError(
            f"Argo Server refused to {what}: unauthorized", "pass a valid --token / argo.token"
        ) from None
    except HeraException as exc:
        raise WorkflowError(
            f"Argo Server refused to {what}: {exc}", "check the workflow and the namespace"
        ) from None


def submit(
    settings: Settings,
    manifest: Mapping[str, Any],
    *,
    server: str | None = None,
    namespace: str | None = None,
    token: str | None = None,
) -> Submission:
    """Create ``manifest`` on the Argo Server; an existing workflow of the same name is returned as is."""
    from hera.exceptions import AlreadyExists
    from hera.workflows.models import Workflow, WorkflowCreateRequest

    ns = namespace or settings.argo.namespace
    svc = _service(settings, server, token)
    request = WorkflowCreateRequest(workflow=Workflow.model_validate(dict(manifest)))
    name = str((manifest.get("metadata") or {}).get("name") or "")
    try:
        created = _call("create the workflow", svc.host, svc.create_workflow, request, namespace=ns)
    except AlreadyExists:
        if not name:
            raise WorkflowError("Argo Server says the workflow already exists", "retry") from None
        existing = _call("read the workflow", svc.host, svc.get_workflow, name, namespace=ns)
        return Submission(name, ns, str(existing.metadata.uid or ""), False, _phase(existing))
    return Submission(str(created.metadata.name), ns, str(created.metadata.uid or ""), True, _phase(created))


def _phase(wf: Any) -> str:
    status = getattr(wf, "status", None)
    return str(getattr(status, "phase", "") or "")


def wait(
    settings: Settings,
    sub: Submission,
    *,
    server: str | None = None,
    token: str | None = None,
    poll_s: float = 2.0,
    timeout_s: float | None = None,
) -> str:
    """Poll the workflow until it finishes; returns its phase (Succeeded, Failed or Error)."""
    svc = _service(settings, server, token)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        wf = _call("read the workflow", svc.host, svc.get_workflow, sub.name, namespace=sub.namespace)
        phase = _phase(wf)
        if phase in FINISHED:
            return phase
        if deadline is not None and time.monotonic() > deadline:
            raise WorkflowError(
                f"workflow {sub.name} still {phase or 'Pending'} after {timeout_s}s",
                "check it in the Argo UI or wait longer",
            )
        time.sleep(poll_s)
