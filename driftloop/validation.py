"""Strict offline validation of the Kubernetes / Argo YAML that driftloop renders and ships.

Only what the installed dependencies carry is used, nothing from outside the repository:

* Argo Workflows kinds (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow,
  WorkflowEventBinding) are walked against Hera's generated pydantic models
  (:mod:`hera.workflows.models`), Argo Events kinds (EventSource, Sensor) against
  :mod:`hera.events.models`. Hera's models ignore unknown keys, so the walk is ours: every key must be a
  field's JSON name (its alias), every value must have the field's JSON type, required fields must be
  present — as the API server's strict field validation would judge it.
* Core Kubernetes kinds go to ``kubernetes_validate`` (strict, one fixed Kubernetes version). It reports
  the first error of a document only.
* Anything else (EventBus — Hera ships no model for it —, monitoring CRDs, KServe, ...) is *not checked*:
  no error, but the result says so (:attr:`DocumentResult.skipped`, :attr:`ValidationReport.skipped`).

Invalid documents never raise; they return errors such as
``WorkflowTemplate driftloop-retrain: spec.templates[3].container.imagePullPolicyy: unknown field``.
Only unreadable YAML raises :class:`~driftloop.errors.WorkflowError`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import types
import typing
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.references import sensor_reference_errors

__all__ = [
    "K8S_VERSION",
    "NO_MODEL",
    "DocumentResult",
    "ValidationReport",
    "check_document",
    "load_documents",
    "validate_document",
    "validate_documents",
    "validate_paths",
]

K8S_VERSION = "1.33"
ARGO_API_GROUP = "argoproj.io/"
WORKFLOW_KINDS = (
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "WorkflowEventBinding",
)
EVENTS_KINDS = ("EventSource", "Sensor")
# Hera's event models are generated from the Argo Workflows API, which has no EventBus.
NO_MODEL = {"EventBus": "no schema installed: hera.events.models has no EventBus model"}
KUSTOMIZE_FILES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class DocumentResult:
    """What the check of one document found: ``errors``, or why it was ``skipped`` (not checked)."""

    kind: str
    name: str
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None
    unchecked: list[str] = field(default_factory=list)  # embedded objects no schema covers


@dataclass
class ValidationReport:
    """Errors and counts over many documents; ``checked`` counts documents per kind that a schema check
    ran on, ``skipped`` maps each kind that none ran on to the reason."""

    documents: int = 0
    errors: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)
    skipped_files: dict[str, str] = field(default_factory=dict)  # path -> why the file was not read
    unchecked: list[str] = field(default_factory=list)  # objects embedded in checked ones, not checked

    @property
    def ok(self) -> bool:
        """No error in any checked document."""
        return not self.errors

    def add(self, result: DocumentResult, source: str = "") -> None:
        """Count one document's result (errors prefixed with ``source``, e.g. ``file.yaml#2``)."""
        prefix = f"{source} " if source else ""
        self.documents += 1
        self.errors += [f"{prefix}{e}" for e in result.errors]
        self.unchecked += [f"{prefix}{u}" for u in result.unchecked]
        if result.skipped is None:
            self.checked[result.kind] += 1
        else:
            self.skipped[result.kind] = result.skipped

    def summary(self) -> str:
        """One line: checked kinds, error count and what was not checked."""
        checked = ", ".join(f"{k} {n}" for k, n in sorted(self.checked.items())) or "none"
        line = f"{self.documents} documents, {sum(self.checked.values())} checked ({checked})"
        line += f", {len(self.errors)} errors"
        if self.skipped:
            line += "; not checked: " + ", ".join(f"{k} ({r})" for k, r in sorted(self.skipped.items()))
        return line


# --- dispatch ------------------------------------------------------------------------------------------
def check_document(doc: Any, k8s_version: str = K8S_VERSION) -> DocumentResult:
    """Check one parsed document; never raises for an invalid one."""
    walker = _Walker(k8s_version)
    if not _is_object(doc):
        return DocumentResult("?", "?", ["not a Kubernetes object (needs string apiVersion and kind)"])
    kind, name = str(doc["kind"]), _name(doc)
    skipped = walker.document(doc, "")
    if kind == "Sensor":  # what Argo Events' own linter lets through
        walker.errors += sensor_reference_errors(doc)
    errors = [f"{kind} {name}: {e}" for e in walker.errors]
    return DocumentResult(kind, name, errors, skipped, [f"{kind} {name}: {u}" for u in walker.unchecked])


def validate_document(doc: Any, k8s_version: str = K8S_VERSION) -> list[str]:
    """Errors of one document (empty when valid *or not checked*: see :func:`check_document`)."""
    return check_document(doc, k8s_version).errors


def validate_documents(
    docs: Iterable[Any], source: str = "", k8s_version: str = K8S_VERSION
) -> ValidationReport:
    """Check parsed documents (``None`` ones are ignored); errors name ``source#index``."""
    report = ValidationReport()
    _check_all(report, docs, source, k8s_version)
    return report


def _check_all(report: ValidationReport, docs: Iterable[Any], source: str, k8s_version: str) -> None:
    for i, doc in enumerate(docs):
        if doc is not None:
            report.add(check_document(doc, k8s_version), f"{source}#{i}" if source else "")


def load_documents(path: Path) -> list[Any]:
    """The documents of a (multi-document) YAML file, ``None`` ones dropped."""
    import yaml

    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise WorkflowError(f"cannot read {path}: {err}", "fix the file's YAML syntax") from err


def validate_paths(paths: Iterable[Path], k8s_version: str = K8S_VERSION) -> ValidationReport:
    """Check YAML files and directories (searched for ``*.yaml`` / ``*.yml``).

    Skipped, and listed in ``skipped_files``: kustomization files, files that are not YAML (e.g. JSON
    dashboards) and YAML files none of whose documents has apiVersion or kind.
    """
    report = ValidationReport()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.name in KUSTOMIZE_FILES:
                report.skipped_files[str(file)] = "kustomization"
            elif file.suffix not in (".yaml", ".yml"):
                report.skipped_files[str(file)] = "not YAML"
            else:
                docs = load_documents(file)
                if docs and not any(
                    isinstance(d, Mapping) and ("apiVersion" in d or "kind" in d) for d in docs
                ):
                    report.skipped_files[str(file)] = "not a Kubernetes object"
                else:
                    _check_all(report, docs, str(file), k8s_version)
    return report


def _is_object(doc: Any) -> bool:
    return isinstance(doc, Mapping) and all(
        isinstance(doc.get(k), str) and doc[k] for k in ("apiVersion", "kind")
    )


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return str(meta.get("name") or meta.get("generateName") or "?")


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    if _SIMPLE_KEY.fullmatch(text):
        return f"{path}.{text}" if path else text
    return f'{path}["{text}"]'


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    return names.get(type(value), type(value).__name__)


@cache
def _argo_model(kind: str) -> type[Any] | None:
    if kind in WORKFLOW_KINDS:
        import hera.workflows.models as workflow_models

        return getattr(workflow_models, kind, None)
    if kind in EVENTS_KINDS:
        import hera.events.models as events_models

        return getattr(events_models, kind, None)
    return None


# --- the walk ------------------------------------------------------------------------------------------
class _Walker:
    """Walks a document against Hera's models; collects ``errors`` and ``unchecked`` notes with paths."""

    def __init__(self, k8s_version: str) -> None:
        self.k8s_version = k8s_version
        self.errors: list[str] = []
        self.unchecked: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path or '(root)'}: {message}")

    def document(self, doc: Mapping[str, Any], path: str) -> str | None:
        """Check a whole object at ``path``; return why it was not checked, or None."""
        api, kind = str(doc["apiVersion"]), str(doc["kind"])
        if api.startswith(ARGO_API_GROUP) and kind in NO_MODEL:
            return NO_MODEL[kind]
        model = _argo_model(kind) if api.startswith(ARGO_API_GROUP) else None
        if model is not None:
            if api != "argoproj.io/v1alpha1":
                self.error(_join(path, "apiVersion"), f"unknown apiVersion {api} for {kind}")
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
            self.model(body, model, path)
            return None
        return self.kubernetes(doc, path)

    def kubernetes(self, doc: Mapping[str, Any], path: str) -> str | None:
        try:
            import kubernetes_validate
        except ImportError:  # a dev dependency
            return "kubernetes-validate is not installed"
        try:
            kubernetes_validate.validate(dict(doc), self.k8s_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return f"no schema for {doc['apiVersion']}/{doc['kind']} in Hera or Kubernetes {self.k8s_version}"
        except kubernetes_validate.ValidationError as err:
            where = path
            for part in err.absolute_path:
                where = _join(where, part)
            known = err.schema.get("properties", {}) if isinstance(err.schema, Mapping) else {}
            if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
                for key in (k for k in err.instance if k not in known):
                    self.error(_join(where, key), "unknown field")
            else:
                self.error(where, str(err.message)[:300])
        return None

    def model(self, value: Any, cls: type[Any], path: str) -> None:
        """An object against a pydantic model class: unknown keys, missing required fields, values."""
        if not isinstance(value, Mapping):
            self.error(path, f"expected object, got {_type_name(value)}")
            return
        fields, required = _fields(cls)
        if not fields:  # Plugin, FieldsV1, NoneStrategy...: the schema says only "object"
            return
        for key, item in value.items():
            if not isinstance(key, str):
                self.error(_join(path, key), "field names must be strings")
            elif key not in fields:
                self.error(_join(path, key), "unknown field")
            else:
                self.value(item, fields[key], _join(path, key))
        for key in required:
            if key not in value:
                self.error(_join(path, key), "missing required field")

    def value(self, value: Any, ann: Any, path: str) -> None:
        """A value against a type annotation of Hera's models."""
        from pydantic import AwareDatetime, BaseModel, RootModel

        origin = typing.get_origin(ann)
        if ann is Any or ann is object:
            return
        if ann is _Unmodelled:
            if not isinstance(value, Mapping):
                self.error(path, f"expected object, got {_type_name(value)}")
            self.unchecked.append(f"{path}: not checked (Hera has no model for it)")
            return
        if origin is typing.Annotated:
            self.value(value, typing.get_args(ann)[0], path)
        elif origin in (typing.Union, types.UnionType):
            self.union(value, typing.get_args(ann), path)
        elif origin is typing.Literal:
            if value not in typing.get_args(ann):
                self.error(path, f"must be one of {list(typing.get_args(ann))}, got {value!r}")
        elif origin is list:
            if not isinstance(value, list):
                self.error(path, f"expected array, got {_type_name(value)}")
                return
            (item_ann,) = typing.get_args(ann)
            for i, item in enumerate(value):
                self.value(item, item_ann, _join(path, i))
        elif origin is dict:
            if not isinstance(value, Mapping):
                self.error(path, f"expected object, got {_type_name(value)}")
                return
            _, item_ann = typing.get_args(ann)
            for key, item in value.items():
                self.value(item, item_ann, _join(path, key))
        elif ann is type(None):
            if value is not None:
                self.error(path, f"expected null, got {_type_name(value)}")
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            quirk = _QUIRKS.get((ann.__name__, "argo_events" in ann.__module__))
            if quirk is not None:
                quirk(self, value, path)
            elif issubclass(ann, RootModel):
                self.value(value, ann.model_fields["root"].annotation, path)
            else:
                self.model(value, ann, path)
        elif ann is AwareDatetime or ann is dt.datetime:
            if not isinstance(value, str | dt.datetime):  # YAML turns timestamps into datetimes
                self.error(path, f"expected string (date-time), got {_type_name(value)}")
        elif isinstance(ann, type) and issubclass(ann, enum.Enum):
            if value not in {m.value for m in ann}:
                self.error(path, f"must be one of {[m.value for m in ann]}, got {value!r}")
        elif ann in (str, int, float, bool):
            self.scalar(value, ann, path)
        else:  # a Hera release with a type this walk does not know: say so, never pass silently
            self.error(path, f"validator cannot check values of type {ann!r}")

    def scalar(self, value: Any, ann: type, path: str) -> None:
        accepted: tuple[type, ...] = (int, float) if ann is float else (ann,)
        if (isinstance(value, bool) and ann is not bool) or not isinstance(value, accepted):
            expected = {str: "string", int: "integer", float: "number", bool: "boolean"}[ann]
            self.error(path, f"expected {expected}, got {_type_name(value)}")

    def union(self, value: Any, options: tuple[Any, ...], path: str) -> None:
        if value is None and type(None) in options:  # null is "absent" for an optional field
            return
        options = tuple(o for o in options if o is not type(None))
        if len(options) == 1:
            self.value(value, options[0], path)
            return
        tries: list[list[str]] = []
        for option in options:
            sub = _Walker(self.k8s_version)
            sub.value(value, option, path)
            if not sub.errors:
                self.unchecked += sub.unchecked
                return
            tries.append(sub.errors)
        fewest: list[str] = min(tries, key=len)  # the option the value comes closest to
        self.errors += fewest

    # --- Hera quirks: types whose Python model differs from their JSON form ----------------------------
    def number(self, value: Any, path: str) -> None:
        """Argo Events ``Amount`` (a JSON number; Hera models it as an object with a base64 ``value``)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"expected number, got {_type_name(value)}")

    def int_or_string(self, value: Any, path: str) -> None:
        """Argo Events ``Int64OrString`` (``10`` or ``"10s"``; Hera: an object ``int64Val/strVal/type``)."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.error(path, f"expected integer or string, got {_type_name(value)}")

    def quantity(self, value: Any, path: str) -> None:
        """``Quantity``: ``"500m"`` or a plain number, as Kubernetes accepts (Hera: string only)."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.error(path, f"expected quantity (string or number), got {_type_name(value)}")

    def resource(self, value: Any, path: str) -> None:
        """Argo Events ``K8SResource``: any object (Hera: an object with a base64 ``value``). An embedded
        object with apiVersion and kind (the Workflow a Sensor trigger creates) is checked as itself."""
        if not isinstance(value, Mapping):
            self.error(path, f"expected object, got {_type_name(value)}")
        elif _is_object(value):
            reason = self.document(value, path)
            if reason is not None:
                self.unchecked.append(f"{path}: embedded {value['kind']} not checked ({reason})")
        else:
            self.unchecked.append(f"{path}: arbitrary object without apiVersion/kind not checked")


class _Unmodelled:
    """Annotation of an Argo Events field whose type Hera has no model for: any object, noted unchecked."""


# Hera 7.1's event models predate Argo Events 1.9 (see its api/jsonschema/schema.json):
# Go structs embedded with `json:",inline"` that Hera models as a nested field (their keys sit in the parent),
_INLINE = {
    "WebhookEventSource": "webhookContext",
    "HDFSEventSource": "watchPathConfig",
    "ResourceEventSource": "groupVersionResource",
    "EventSourceStatus": "status",
    "SensorStatus": "status",
}


# ... and fields added since, with their JSON types.
def _added_fields(name: str) -> dict[str, Any]:
    import hera.events.models as ev

    added: dict[str, dict[str, Any]] = {
        "AzureServiceBusEventSource": {"deferDelete": bool},
        "EventSourceSpec": {"mns": dict[str, _Unmodelled]},
        "GerritEventSource": {"maxTries": int},
        "GitArtifact": {"githubApp": ev.GithubAppCreds},
        "HTTPTrigger": {"dynamicHeaders": list[ev.TriggerParameter], "host": str},
        "KafkaEventSource": {"awsMskIamAuth": _Unmodelled, "schemaRegistry": ev.SchemaRegistryConfig},
        "StorageGridEventSource": {"tls": ev.TLSConfig},
        "TimeFilter": {"timezone": str},
        "TLSConfig": {"enabled": bool},
    }
    return added.get(name, {})


_FIELDS: dict[type[Any], tuple[dict[str, Any], tuple[str, ...]]] = {}


def _fields(cls: type[Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A model's JSON field names (aliases) -> annotations, and the required ones; Argo Events gaps
    of Hera patched in."""
    if cls in _FIELDS:
        return _FIELDS[cls]
    fields = {(f.alias or n): f.annotation for n, f in cls.model_fields.items()}
    required = tuple((f.alias or n) for n, f in cls.model_fields.items() if f.is_required())
    if "argo_events" in cls.__module__:
        inline = _INLINE.get(cls.__name__)
        if inline in fields:
            (nested,) = [a for a in typing.get_args(fields.pop(inline)) if a is not type(None)]
            fields.update({(f.alias or n): f.annotation for n, f in nested.model_fields.items()})
        fields.update(_added_fields(cls.__name__))
    _FIELDS[cls] = fields, required
    return fields, required


_QUIRKS: dict[tuple[str, bool], typing.Callable[[_Walker, Any, str], None]] = {
    ("Amount", True): _Walker.number,
    ("Int64OrString", True): _Walker.int_or_string,
    ("K8SResource", True): _Walker.resource,
    ("Quantity", False): _Walker.quantity,
}
