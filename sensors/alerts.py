"""The storm breaker's alert event (``io.driftloop.sensor.alert``)."""

from __future__ import annotations

import time

from driftloop.events import SENSOR_ALERT, CloudEvent, deterministic_id

__all__ = ["storm_alert"]


def storm_alert(model: str, reason: str, at: float | None = None) -> CloudEvent:
    """One alert per model and hour: the id is derived from both, so a repeat is recognisable."""
    hour = int((at or time.time()) // 3600)
    return CloudEvent(
        id=deterministic_id("sensor-storm", model, hour),
        source="driftloop/sensor",
        type=SENSOR_ALERT,
        subject=model,
        data={"model": model, "policy": "storm", "reason": reason},
    )
