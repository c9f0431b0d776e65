"""The compiled Sensor, as the local sensor runs it: loaded from ``manifests/`` and evaluated per event.

:class:`SensorSpec` takes the one dependency and the one Workflow trigger driftloop's Sensor has and
answers, for one event's data (``{"topic", "partition", "body", ...}`` as a Kafka EventSource with
``jsonBody: true`` produces it), which filters passed, which parameters resolved, and the Workflow to
create. The trigger is a ``k8s`` trigger creating an ``argoproj.io/v1alpha1`` ``Workflow`` (what
``driftloop compile`` writes); an ``argoWorkflow`` ``submit`` trigger, as a hand-written Sensor may have,
is evaluated the same way. Both triggers label what they create with the Sensor and trigger names
(Argo Events adds ``events.argoproj.io/sensor`` / ``trigger`` before the create); so does this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftloop.errors import ConfigError
from driftloop.local.sensor.filters import FilterResult, SpecError, evaluate_filters
from driftloop.local.sensor.mapping import MappingError, apply_parameters

__all__ = ["Decision", "SensorSpec", "find_sensor", "load_sensor"]

DEFAULT_SENSOR_FILE = "base/generated/sensors/sensor.yaml"  # sensors.manifests.SENSOR_FILE
#: trigger kind → the operations that create a Workflow from ``source.resource``.
_WORKFLOW_TRIGGERS = {"k8s": ("", "create"), "argoWorkflow": ("", "submit")}


@dataclass
class Decision:
    """What the Sensor does with one event."""

    triggered: bool
    filters: list[FilterResult] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    workflow: dict[str, Any] | None = None
    error: str = ""

    @property
    def workflow_name(self) -> str:
        return str(((self.workflow or {}).get("metadata") or {}).get("name") or "")

    def workflow_parameters(self) -> dict[str, str]:
        args = ((self.workflow or {}).get("spec") or {}).get("arguments") or {}
        return {str(p["name"]): str(p.get("value", "")) for p in args.get("parameters") or []}

    def to_json(self) -> dict[str, Any]:
        return {
            "triggered": self.triggered,
            "filters": [
                {"kind": f.kind, "name": f.name, "passed": f.passed, "detail": f.detail} for f in self.filters
            ],
            "parameters": self.parameters,
            "workflow": self.workflow,
            "error": self.error,
        }


class SensorSpec:
    """One dependency + one Workflow-creating trigger (``k8s`` create or ``argoWorkflow`` submit)."""

    def __init__(self, doc: Mapping[str, Any], source: str = "<sensor>") -> None:
        if doc.get("kind") != "Sensor":
            raise ConfigError(
                f"{source} is a {doc.get('kind')!r}, not a Sensor", "give the compiled Sensor YAML"
            )
        spec = doc.get("spec") or {}
        deps = spec.get("dependencies") or []
        triggers = [
            (t, kind)
            for t in spec.get("triggers") or []
            for kind in _WORKFLOW_TRIGGERS
            if isinstance((t.get("template") or {}).get(kind), dict)
        ]
        if len(deps) != 1 or not triggers:
            raise ConfigError(
                f"{source}: the local sensor runs one dependency and a k8s (or argoWorkflow) trigger "
                f"(found {len(deps)} dependencies, {len(triggers)} workflow triggers)",
                "run `driftloop compile` to regenerate the Sensor",
            )
        self.doc = dict(doc)
        self.source = source
        self.name = str((doc.get("metadata") or {}).get("name") or "sensor")
        self.dependency: dict[str, Any] = deps[0]
        self.trigger, self.trigger_kind = triggers[0]
        body = self.trigger["template"][self.trigger_kind]
        operation = str(body.get("operation") or "")
        creates = _WORKFLOW_TRIGGERS[self.trigger_kind]
        if operation not in creates:
            raise ConfigError(
                f"{source}: the {self.trigger_kind} trigger's operation is {operation!r}; the local "
                f"sensor only runs `operation: {creates[-1]}`",
                "run `driftloop compile` to regenerate the Sensor",
            )
        self.resource: dict[str, Any] = ((body.get("source") or {}).get("resource")) or {}
        if self.resource.get("kind") != "Workflow" or not str(self.resource.get("apiVersion", "")).startswith(
            "argoproj.io/"
        ):
            raise ConfigError(
                f"{source}: the trigger's source.resource holds no argoproj.io Workflow",
                "regenerate the Sensor with `driftloop compile` (Hera drops a dict resource)",
            )
        self.parameters: list[dict[str, Any]] = list(body.get("parameters") or [])
        self.at_least_once = bool(self.trigger.get("atLeastOnce"))
        self.trigger_name = str(self.trigger["template"].get("name") or "")

    @property
    def template_name(self) -> str:
        return str(((self.resource.get("spec") or {}).get("workflowTemplateRef") or {}).get("name") or "")

    def evaluate(self, data: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> Decision:
        """Filters, then parameters. A spec that cannot be evaluated raises ``ConfigError``."""
        try:
            ev = evaluate_filters(self.dependency, data)
        except SpecError as exc:
            raise ConfigError(f"{self.source}: {exc}", "fix the trigger rule and recompile") from None
        if not ev.passed:
            return Decision(False, ev.results)
        try:
            workflow, applied = apply_parameters(self.resource, self.parameters, data, context)
        except MappingError as exc:
            return Decision(False, ev.results, error=str(exc))
        meta = workflow.setdefault("metadata", {})
        meta["labels"] = {
            **(meta.get("labels") or {}),
            "events.argoproj.io/sensor": self.name,
            "events.argoproj.io/trigger": self.trigger_name,
        }
        return Decision(True, ev.results, applied, workflow)


def find_sensor(manifests_dir: Path) -> Path:
    """The Sensor YAML under ``manifests_dir`` (``sensors/sensor.yaml`` first, else any Sensor)."""
    default = Path(manifests_dir) / DEFAULT_SENSOR_FILE
    if default.is_file():
        return default
    for path in sorted(Path(manifests_dir).rglob("*.yaml")):
        if "kind: Sensor" in path.read_text(errors="replace"):
            return path
    raise ConfigError(
        f"no compiled Sensor under {manifests_dir}",
        "run `driftloop compile` (or pass --sensor PATH / set manifests_dir)",
    )


def load_sensor(path: str | Path) -> SensorSpec:
    """Parse a Sensor YAML file (the first ``kind: Sensor`` document)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Sensor file {path} does not exist", "run `driftloop compile` or fix --sensor")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", "fix or regenerate the Sensor") from None
    sensors = [d for d in docs if d.get("kind") == "Sensor"]
    if not sensors:
        raise ConfigError(f"{path} holds no Sensor", "give the compiled Sensor YAML")
    return SensorSpec(sensors[0], str(path))
