"""The model server's Prometheus metrics (prefix ``driftloop_serving_``).

Each server owns its own :class:`~prometheus_client.CollectorRegistry`, so several servers in one process
(tests, ``driftloop up`` with two models) never collide on metric names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ServingMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Milliseconds-scale buckets: a 1-row predict of a small model takes ~1 ms; the target is p99 <= 20 ms.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "driftloop_serving_requests",
            "Predict requests by model, version served, route (champion|canary|pinned) and outcome",
            ["model", "version", "route", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "driftloop_serving_request_latency_seconds",
            "Predict latency inside the server (parse, predict, enqueue the log record)",
            ["model", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "driftloop_serving_log_records_dropped",
            "Inference-log records dropped because the log queue was full or Kafka refused them",
            ["model"],
            registry=self.registry,
        )
        self.log_published = Counter(
            "driftloop_serving_log_records_published",
            "Inference-log records handed to Kafka",
            ["model"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "driftloop_serving_log_queue_depth",
            "Inference-log records waiting to be published",
            registry=self.registry,
        )
        self.reloads = Counter(
            "driftloop_serving_model_loads",
            "Model loads by alias and outcome (ok | integrity_error | error)",
            ["model", "alias", "outcome"],
            registry=self.registry,
        )
        self.shadow = Counter(
            "driftloop_serving_shadow_requests",
            "Mirrored requests scored by the challenger, by outcome (ok | error | dropped: queue full)",
            ["model", "version", "outcome"],
            registry=self.registry,
        )
        self.unauthorized = Counter(
            "driftloop_serving_unauthorized_requests",
            "Requests to a state-changing route refused for a missing or wrong bearer token",
            ["path"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "driftloop_serving_feedback_labels",
            "Ground-truth labels received",
            ["model"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
