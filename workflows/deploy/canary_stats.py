"""Per-version canary statistics from inference-log records and feedback labels (pure: no I/O).

:func:`summarize` selects one version's records by ``model_version`` (so a shadow challenger's records,
``"route": "shadow"``, are selected the same way) and joins them by request id with the labels: error
rate, latencies (kept sorted, with their p95) and — where labels arrived — accuracy for a classifier,
mean absolute error for a regressor (``task``; a regressor is never judged by accuracy). A failed request
is never scored, and a regressor's non-numeric label or prediction is not counted as labeled.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["VariantStats", "summarize"]


@dataclass
class VariantStats:
    version: str | None
    requests: int = 0
    errors: int = 0
    p95_latency_ms: float | None = None
    labeled: int = 0
    correct: int = 0
    abs_error_sum: float = 0.0  # regression: sum and sum of squares of |label - prediction|
    abs_error_sq_sum: float = 0.0
    task: str = "classification"
    # every HTTP request's latency (a batch's rows share one), ascending (the latency rule counts the
    # canary's requests above the ceiling)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labeled if self.labeled else None

    @property
    def mae(self) -> float | None:
        return self.abs_error_sum / self.labeled if self.labeled else None

    @property
    def mae_variance(self) -> float:
        """The sample variance of the absolute errors (0 with fewer than two labels)."""
        if self.labeled < 2:
            return 0.0
        mean = self.abs_error_sum / self.labeled
        return max(0.0, (self.abs_error_sq_sum - self.labeled * mean * mean) / (self.labeled - 1))

    def slower_than(self, ceiling_ms: float) -> int:
        """How many of the latencies are above ``ceiling_ms``."""
        return len(self.latencies_ms) - bisect.bisect_right(self.latencies_ms, ceiling_ms)

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "error_rate": self.error_rate}
        out.pop("latencies_ms")
        if self.task == "regression":
            out["mae"] = self.mae
            out.pop("correct")
        else:
            out["accuracy"] = self.accuracy
            out.pop("abs_error_sum")
            out.pop("abs_error_sq_sum")
        return out


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _same(label: Any, prediction: Any) -> bool:
    return bool(label == prediction or str(label) == str(prediction))


def _abs_error(label: Any, prediction: Any) -> float | None:
    try:
        err = abs(float(label) - float(prediction))
    except (TypeError, ValueError):
        return None
    return err if math.isfinite(err) else None


def summarize(
    records: Iterable[dict[str, Any]],
    labels: dict[str, Any],
    version: str | None,
    task: str = "classification",
) -> VariantStats:
    """Stats of one version from inference-log records and labels (request id -> label)."""
    stats = VariantStats(version, task=task)
    latencies: list[float] = []
    batches: set[tuple[Any, float]] = set()
    for rec in records:
        if version is None or rec.get("model_version") != version:
            continue
        stats.requests += 1
        if "error" in rec:
            stats.errors += 1
        if isinstance(rec.get("latency_ms"), int | float):
            latency = float(rec["latency_ms"])
            # One latency per HTTP request: the server logs a batch's rows with the request's timestamp
            # and latency. Counted per row, one slow batch of 10 weighed as 10 slow requests and the
            # latency rule rolled back a healthy canary on a real cluster (5 slow batches of 43 → "12 %").
            batch = (rec["timestamp"], latency) if "timestamp" in rec else None
            if batch is None or batch not in batches:
                latencies.append(latency)
                if batch is not None:
                    batches.add(batch)
        rid = rec.get("request_id")
        if "error" not in rec and rid in labels:
            if task == "regression":
                err = _abs_error(labels[rid], rec.get("prediction"))
                if err is None:  # a non-numeric label or prediction cannot be scored
                    continue
                stats.labeled += 1
                stats.abs_error_sum += err
                stats.abs_error_sq_sum += err * err
            else:
                stats.labeled += 1
                stats.correct += _same(labels[rid], rec.get("prediction"))
    latencies.sort()
    stats.latencies_ms = latencies
    stats.p95_latency_ms = _p95(latencies)
    return stats
