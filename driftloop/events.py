"""The CloudEvents 1.0 envelope every driftloop event travels in (JSON structured mode).

Drift monitors publish ``io.driftloop.drift.*``, ``io.driftloop.performance.degraded`` and
``io.driftloop.data.quality`` events; the retrain
workflow publishes ``io.driftloop.retrain.*`` outcomes; the sensor publishes alerts. ``data`` holds the
type-specific payload, described by the JSON Schemas under ``driftloop/schemas/``.
See https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from driftloop.errors import EventError

__all__ = [
    "DATA_QUALITY",
    "DRIFT_CHECKED",
    "DRIFT_DETECTED",
    "PERFORMANCE_DEGRADED",
    "RETRAIN_FAILED",
    "RETRAIN_REJECTED",
    "RETRAIN_SUCCEEDED",
    "RETRAIN_TRIGGERS",
    "SENSOR_ALERT",
    "CloudEvent",
    "deterministic_id",
]

DRIFT_DETECTED = "io.driftloop.drift.detected"
DRIFT_CHECKED = "io.driftloop.drift.checked"
DATA_QUALITY = "io.driftloop.data.quality"
#: A model's performance fell below its holdout's by more than the monitor's ``performance_drop``:
#: measured on feedback labels, or estimated without them (``data.estimated: true``; CBPE / DLE).
PERFORMANCE_DEGRADED = "io.driftloop.performance.degraded"
#: The monitor events that may start a retrain — when their ``data.retrain`` is true; ``data.reason``
#: says which signal (``driftloop.contracts.REASONS``).
RETRAIN_TRIGGERS = (DRIFT_DETECTED, PERFORMANCE_DEGRADED)
RETRAIN_SUCCEEDED = "io.driftloop.retrain.succeeded"
RETRAIN_FAILED = "io.driftloop.retrain.failed"
RETRAIN_REJECTED = "io.driftloop.retrain.rejected"
SENSOR_ALERT = "io.driftloop.sensor.alert"


def deterministic_id(*parts: object) -> str:
    """A stable event id from its identity: the same inputs always give the same id (a UUID5-style
    hex string), so a re-run or a redelivery can be recognised downstream."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: str = Field(default_factory=_now)
    subject: str | None = None
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("specversion")
    @classmethod
    def _v1(cls, value: str) -> str:
        if value != "1.0":
            raise ValueError(f"specversion must be '1.0', got {value!r}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True, default=str).encode()

    @classmethod
    def parse(cls, raw: bytes | str | dict[str, Any]) -> CloudEvent:
        """Parse a structured-mode CloudEvent; raise EventError saying what is wrong."""
        if isinstance(raw, bytes | str):
            try:
                raw = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise EventError(
                    f"event is not JSON: {exc}", "publish a CloudEvents 1.0 JSON envelope"
                ) from None
        if not isinstance(raw, dict):
            raise EventError("event is not a JSON object", "publish a CloudEvents 1.0 JSON envelope")
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise EventError(
                f"event field {where!r}: {first['msg']}", "fix the producer of this event"
            ) from None
