"""The compiled Sensor, as the local sensor runs it: loaded from ``manifests/`` and evaluated per event.

:class:`SensorSpec` takes the one dependency and the one Argo Workflow trigger driftloop's Sensor has and
answers, for one event's data (``{"topic", "partition", "body", ...}`` as a Kafka EventSource with
``jsonBody: true`` produces it), which filters passed, which parameters resolved, and the Workflow to
create.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftloop.errors import ConfigError
from driftloop.localsensor.filters import FilterResult, SpecError, evaluate_filters
from driftloop.localsensor.mapping import MappingError, apply_parameters

__all__ = ["Decision", "SensorSpec", "find_sensor", "load_sensor"]

DEFAULT_SENSOR_FILE = "base/generated/sensors/sensor.yaml"  # sensors.manifests.SENSOR_FILE


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
    """One dependency + one ``argoWorkflow`` trigger of a compiled Sensor manifest."""

    def __init__(self, doc: Mapping[str, Any], source: str = "<sensor>") -> None:
        if doc.get("kind") != "Sensor":
            raise ConfigError(
                f"{source} is a {doc.get('kind')!r}, not a Sensor", "give the compiled Sensor YAML"
            )
        spec = doc.get("spec") or {}
        deps = spec.get("dependencies") or []
        triggers = [t for t in spec.get("triggers") or [] if "argoWorkflow" in (t.get("template") or {})]
        if len(deps) != 1 or not triggers:
            raise ConfigError(
                f"{source}: the local sensor runs one dependency and an argoWorkflow trigger "
                f"(found {len(deps)} dependencies, {len(triggers)} workflow triggers)",
                "run `driftloop compile` to regenerate the Sensor",
            )
        self.doc = dict(doc)
        self.source = source
        self.name = str((doc.get("metadata") or {}).get("name") or "sensor")
        self.dependency: dict[str, Any] = deps[0]
        self.trigger: dict[str, Any] = triggers[0]
        wf_trigger = self.trigger["template"]["argoWorkflow"]
        self.resource: dict[str, Any] = ((wf_trigger.get("source") or {}).get("resource")) or {}
        if self.resource.get("kind") != "Workflow":
            raise ConfigError(
                f"{source}: the trigger's source.resource holds no Workflow",
                "regenerate the Sensor with `driftloop compile` (Hera drops a dict resource)",
            )
        self.parameters: list[dict[str, Any]] = list(wf_trigger.get("parameters") or [])
        self.at_least_once = bool(self.trigger.get("atLeastOnce"))

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
