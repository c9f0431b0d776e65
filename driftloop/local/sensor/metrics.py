"""The local sensor's Prometheus metrics (prefix ``driftloop_sensor_``), one registry per sensor so
several sensors in one process (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["SensorMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class SensorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "driftloop_sensor_events_received", "Records read from the drift topic", registry=r
        )
        self.filtered = Counter(
            "driftloop_sensor_events_filtered", "Valid events the Sensor's filters rejected", registry=r
        )
        self.triggered = Counter(
            "driftloop_sensor_events_triggered", "Events that produced a durable run submission", registry=r
        )
        self.deduplicated = Counter(
            "driftloop_sensor_events_deduplicated", "Events whose id already started a run", registry=r
        )
        self.rejected = Counter(
            "driftloop_sensor_events_rejected",
            "Matching events an admission policy dropped",
            ["policy"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "driftloop_sensor_events_dead_lettered",
            "Malformed records sent to the dead-letter topic",
            ["reason"],
            registry=r,
        )
        self.latency = Histogram(
            "driftloop_sensor_trigger_latency_seconds",
            "Kafka record timestamp -> durable run submission",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
