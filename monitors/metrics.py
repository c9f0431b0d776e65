"""Prometheus metrics of drift checks (``driftloop_monitor_*``), registered once per process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from monitors.check import CheckResult

__all__ = ["MonitorMetrics", "metrics"]


class MonitorMetrics:
    """The metric families; ``record(result)`` updates them after a check."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.checks = Counter(
            "driftloop_monitor_checks_total",
            "Drift checks run, by outcome",
            ["model", "status"],
            registry=registry,
        )
        self.drift_share = Gauge(
            "driftloop_monitor_drift_share",
            "Share of feature columns that drifted in the last check",
            ["model"],
            registry=registry,
        )
        self.dataset_drift = Gauge(
            "driftloop_monitor_dataset_drift",
            "1 when the last check found dataset drift",
            ["model"],
            registry=registry,
        )
        self.column_score = Gauge(
            "driftloop_monitor_column_drift_score",
            "Per-column drift score of the last check",
            ["model", "column", "test"],
            registry=registry,
        )
        self.quality_problems = Counter(
            "driftloop_monitor_quality_problems_total",
            "Data-quality problems found",
            ["model", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "driftloop_monitor_check_duration_seconds",
            "Duration of the drift calculation",
            ["model"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
            registry=registry,
        )
        self.last_check = Gauge(
            "driftloop_monitor_last_check_timestamp_seconds",
            "Unix time of the last check",
            ["model"],
            registry=registry,
        )

        self.performance = Gauge(
            "driftloop_monitor_performance",
            "The model's metrics in the last check: measured on labels (actual), estimated without "
            "them (estimated) and on the holdout (reference)",
            ["model", "metric", "kind"],
            registry=registry,
        )
        self.labels = Gauge(
            "driftloop_monitor_labelled_predictions",
            "Predictions of the last checked window that had a feedback label",
            ["model"],
            registry=registry,
        )
        self.performance_degraded = Gauge(
            "driftloop_monitor_performance_degraded",
            "1 when the last check found a performance drop beyond the threshold",
            ["model", "kind"],
            registry=registry,
        )
        self.multivariate_score = Gauge(
            "driftloop_monitor_multivariate_score",
            "Domain-classifier ROC AUC of the last check (0.5: reference and window look alike)",
            ["model"],
            registry=registry,
        )
        self.segment_drift_share = Gauge(
            "driftloop_monitor_segment_drift_share",
            "Share of feature columns that drifted within one segment value in the last check",
            ["model", "column", "value"],
            registry=registry,
        )

    def record(self, result: CheckResult) -> None:
        model = result.model
        self.checks.labels(model, result.status).inc()
        self.duration.labels(model).observe(result.duration_s)
        self.last_check.labels(model).set_to_current_time()
        for problem in result.quality:
            self.quality_problems.labels(model, problem.code).inc()
        if result.status == "quality":
            return
        self.drift_share.labels(model).set(result.drift_share)
        self.dataset_drift.labels(model).set(1.0 if result.dataset_drift else 0.0)
        for name, col in result.columns.items():
            self.column_score.labels(model, name, col.test).set(col.score)
        perf = result.performance
        if perf is not None:
            for kind, values in (
                ("actual", perf.actual),
                ("estimated", perf.estimated),
                ("reference", perf.reference),
            ):
                for metric, value in (values or {}).items():
                    self.performance.labels(model, metric, kind).set(value)
            self.labels.labels(model).set(perf.labels)
            self.performance_degraded.labels(model, "actual").set(1.0 if perf.degraded else 0.0)
            self.performance_degraded.labels(model, "estimated").set(1.0 if perf.estimated_degraded else 0.0)
        if result.multivariate is not None:
            self.multivariate_score.labels(model).set(result.multivariate.score)
        for seg in result.segments or ():
            self.segment_drift_share.labels(model, seg.column, str(seg.value)).set(seg.drift_share)


_metrics: MonitorMetrics | None = None


def metrics() -> MonitorMetrics:
    """The process-wide metrics on the default registry (created on first use)."""
    global _metrics
    if _metrics is None:
        _metrics = MonitorMetrics()
    return _metrics
