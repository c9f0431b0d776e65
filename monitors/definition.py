"""Monitor definitions: *what* to check for one model, kept apart from *how* it is calculated.

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

__all__ = ["ColumnKind", "ColumnSpec", "MonitorDefinition"]

ColumnKind = Literal["numerical", "categorical"]

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


class MonitorDefinition(BaseModel):
    """What a drift check of one model looks at, and when it counts as drift.

    ``features=None`` monitors every column of the reference except target, prediction and ignored ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    features: tuple[ColumnSpec, ...] | None = None
    target: str | None = None
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

    @model_validator(mode="after")
    def _unique(self) -> MonitorDefinition:
        names = [c.name for c in self.features or ()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feature columns listed twice: {dupes}")
        return self

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
