"""The limits of the canary analysis: what the rules of :mod:`workflows.deploy.canary_rules` allow and how
long :func:`workflows.deploy.analysis.watch` looks (configuration only: no calculation here).

Workflow parameters arrive as strings: :meth:`CanaryLimits.from_kwargs` converts them and rejects unknown
names; a deploy target passes the ``canary`` settings (:class:`driftloop.config.CanarySettings`, with
the model's overrides) as defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from driftloop.errors import UsageError

__all__ = ["CanaryLimits"]


@dataclass(frozen=True)
class CanaryLimits:
    duration_s: float = 300.0  # the analysis window (extended once when inconclusive)
    min_requests: int = 100  # canary requests needed for a verdict
    min_labels: int = 30  # labels needed on each side before accuracy counts
    require_labels: bool = False  # inconclusive without enough labels
    max_error_rate_increase: float = 0.01
    max_p95_latency_ratio: float = 1.5
    latency_slack_ms: float = 5.0  # p95 differences below this are noise, whatever the ratio
    accuracy_margin: float = 0.0
    # The two versions are scored on different requests, so their accuracies differ by chance even for
    # the same model: a canary is rolled back only with evidence at this confidence (1 - alpha).
    accuracy_confidence: float = 0.95
    poll_s: float = 2.0
    task: str = "classification"  # regression: judged by the MAE on feedback labels
    error_margin: float = 0.0  # regression: how much larger the canary's MAE may be (label units)
    rule: str = "sequential"  # or "fixed": the previous peeking fixed-horizon rule (for comparison)
    # The effective per-side sample size where the sequential bounds are tightest (any value is valid;
    # near the labels a window collects is best).
    tightest_at: float = 250.0

    def __post_init__(self) -> None:
        if self.rule not in ("sequential", "fixed"):
            raise UsageError(f"unknown canary rule {self.rule!r}", "use rule 'sequential' or 'fixed'")
        if not 0 < self.accuracy_confidence < 1 or self.tightest_at <= 0:
            raise UsageError(
                "canary accuracy_confidence must be in (0, 1) and tightest_at positive",
                "for example accuracy_confidence 0.95, tightest_at 250",
            )

    @property
    def alpha(self) -> float:
        return 1 - self.accuracy_confidence

    @classmethod
    def from_kwargs(cls, **limits: Any) -> CanaryLimits:
        """Build from keyword limits (workflow parameters arrive as strings)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(limits) - set(known))
        if unknown:
            raise UsageError(f"unknown canary limits {unknown}", f"use some of {sorted(known)}")
        values: dict[str, Any] = {}
        for name, value in limits.items():
            if value is None or value == "":
                continue
            kind = type(getattr(cls(), name))
            if kind is bool:
                values[name] = str(value).lower() in ("1", "true", "yes")
            else:
                values[name] = value if kind is str else kind(value)
        return cls(**values)
