"""Monitor definitions: *what* to check for one model, kept apart from *how* it is calculated.

One home for the contract several components share: a model's ``monitor:`` section in ``driftloop.yaml``
is parsed into :class:`MonitorFields` when the configuration loads (:mod:`driftloop.modelspec`), the
retrain template hands it to the register step, and :mod:`monitors` checks windows against the
:class:`MonitorDefinition` made from it (those fields + the model's name and target).

A :class:`MonitorDefinition` is declarative and serialisable (it is stored next to a model version and
hashed into every event it produces). Anything left unset follows Evidently's defaults: column kinds are
inferred from the reference the way Evidently's new API infers them, the stattest is Evidently's automatic
choice, the threshold is that stattest's default, and ``drift_share`` is 0.5.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "KNOWN_FAST_STATTESTS",
    "SIGNALS",
    "ColumnKind",
    "ColumnSpec",
    "MonitorDefinition",
    "MonitorFields",
    "Signal",
]

ColumnKind = Literal["numerical", "categorical"]
#: The signals a check can raise, which are also the ``reason`` of the retrain they trigger
#: (:data:`driftloop.contracts.REASONS`): dataset drift, a measured or an estimated performance drop,
#: multivariate drift, drift within one segment.
Signal = Literal["drift", "performance", "estimated-performance", "multivariate", "segment-drift"]
SIGNALS: tuple[Signal, ...] = (
    "drift",
    "performance",
    "estimated-performance",
    "multivariate",
    "segment-drift",
)

#: Stattests with a fast path in :mod:`monitors.stattests`; any other name registered in Evidently's
#: stattest registry is accepted too and runs through Evidently's own implementation.
KNOWN_FAST_STATTESTS = ("wasserstein", "jensenshannon", "ks", "chisquare", "z")


class ColumnSpec(BaseModel):
    """One monitored column. ``kind=None`` means "infer from the reference"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: ColumnKind | None = None
    stattest: str | None = Field(
        default=None,
        description="Evidently stattest name (e.g. 'wasserstein', 'psi'); None = Evidently's choice",
    )
    threshold: float | None = Field(default=None, description="None = the stattest's default threshold")


class MonitorFields(BaseModel):
    """What a drift check looks at and when it counts as drift — everything but the model it belongs to
    (a model's ``monitor:`` section). ``features=None`` monitors every column of the reference except
    target, prediction and ignored ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: tuple[ColumnSpec, ...] | None = None
    prediction: str | None = None
    ignore_columns: tuple[str, ...] = Field(
        default=(), description="columns a window may carry that are never checked (ids, timestamps)"
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1, description="dataset drift when share drifted >= this"
    )
    min_rows: int = Field(default=100, ge=1, description="a smaller window is a data-quality problem")
    max_missing_share: float = Field(
        default=0.5, ge=0, le=1, description="a column missing more than this share is a quality problem"
    )
    max_unseen_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="share of a categorical's rows with categories the reference lacks",
    )
    max_categories: int = Field(
        default=1000, ge=2, description="a categorical with more distinct values is a quality problem"
    )
    schedule: str = Field(default="0 * * * *", description="cron schedule of periodic checks (hourly)")
    cooldown_minutes: int = Field(
        default=60,
        ge=0,
        description="minimum time between two drift-triggered actions for this model, for the scheduler "
        "that acts on the events to apply. Not applied by a check: `driftloop monitor run` and run_check "
        "ignore it (every run checks and publishes its event), and it is not part of config_hash. "
        "The local sensor currently applies its own `sensor.cooldown_s` setting instead",
    )
    report_sample_rows: int = Field(default=5000, ge=100, description="rows per side in the HTML report")
    performance_metric: Literal["roc_auc", "accuracy", "f1", "log_loss", "mae", "rmse", "r2"] | None = Field(
        default=None, description="the metric watched for a performance drop; None = the model's primary"
    )
    performance_drop: float = Field(
        default=0.05,
        ge=0,
        description="a performance degradation: the watched metric worse than its holdout value by more "
        "than this — absolute for roc_auc, accuracy, f1, r2; relative for mae, rmse, log_loss (0.05 = 5 % "
        "higher) — even at the better end of its 95 % interval",
    )
    min_labels: int = Field(
        default=100, ge=1, description="fewer labelled predictions in a window: no measured performance"
    )
    multivariate_threshold: float | None = Field(
        default=0.6,
        gt=0.5,
        le=1,
        description="multivariate drift when a classifier tells reference from current rows with a "
        "cross-validated ROC AUC >= this; None = no multivariate test",
    )
    segments: tuple[str, ...] = Field(
        default=(), description="columns whose values are checked for drift one by one (e.g. region)"
    )
    min_segment_rows: int = Field(
        default=200, ge=10, description="segment values with fewer window rows are not checked"
    )
    triggers: tuple[Signal, ...] = Field(
        default=("drift", "performance"),
        description="the signals whose firing publishes a retrain-triggering event",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"schedule must be a 5-field cron expression, got {value!r}")
        return value

    @field_validator("features", mode="before")
    @classmethod
    def _names_to_specs(cls, value: object) -> object:
        # Allow the short form ``features=["age", "income"]``.
        if isinstance(value, list | tuple):
            return tuple(ColumnSpec(name=v) if isinstance(v, str) else v for v in value)
        return value

    @field_validator("segments", "triggers", mode="before")
    @classmethod
    def _one_to_tuple(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique(self) -> MonitorFields:
        names = [c.name for c in self.features or ()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feature columns listed twice: {dupes}")
        return self


class MonitorDefinition(MonitorFields):
    """What a drift check of one model looks at, and when it counts as drift: the model's ``monitor:``
    fields, its name and its target."""

    model: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    target: str | None = None

    def spec(self, name: str) -> ColumnSpec:
        """The spec of ``name`` (a bare one for target/prediction or inferred features)."""
        for col in self.features or ():
            if col.name == name:
                return col
        return ColumnSpec(name=name)

    def role(self, name: str) -> Literal["feature", "target", "prediction"]:
        if name == self.target:
            return "target"
        if name == self.prediction:
            return "prediction"
        return "feature"

    def config_hash(self) -> str:
        """A short stable hash of everything that changes a check's outcome (schedule excluded)."""
        payload = self.model_dump(mode="json", exclude={"schedule", "cooldown_minutes", "report_sample_rows"})
        raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(raw).hexdigest()[:16]
