"""The model specification: what driftloop needs to know about a user's model, one entry per model.

``models:`` in ``driftloop.yaml`` maps a model name (an RFC 1123 label) to a :class:`ModelSpec`::

    models:
      demand:
        task: regression                 # classification (binary or multiclass) | regression
        dataset: s3://bucket/demand/current.parquet   # or a local CSV/Parquet path (local mode only)
        target: units
        trainer: demand_model:train      # module:function — the user's code
        code_dir: .                      # where the module lives; default: the config file's directory
        params: {alpha: 0.5}             # passed to the trainer; overridable per run (-p params=...)
        metrics: {primary: mae, gate_margin: 0.02}
        monitor: {drift_share: 0.5, schedule: "0 * * * *"}
        retrain_schedule: "0 3 * * 0"
        image: registry.example.com/demand-train:1.4
        canary: {min_labels: 50}

The short list form (``models: [credit]``) names built-in examples (:data:`EXAMPLES`), which are ordinary
users of this mechanism: their trainers live in example modules outside the core packages.

The trainer contract — ``train(data: DataFrame, target: str, params: dict) -> model`` where ``model``
has ``predict(DataFrame)`` (and ``predict_proba`` for classification) — and the optional
``preprocess(DataFrame) -> DataFrame`` are documented in the README ("Bring your own model").
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from driftloop.monitorspec import MonitorDefinition, MonitorFields

__all__ = [
    "DEFAULT_PRIMARY",
    "EXAMPLES",
    "EXAMPLES_DIR",
    "LOWER_IS_BETTER",
    "MODEL_NAME",
    "TASK_METRICS",
    "CanarySettings",
    "DeploySpec",
    "MetricsSpec",
    "ModelMonitorSpec",
    "ModelSpec",
    "NotificationsSpec",
    "ResourcesSpec",
    "Task",
    "WebhookSpec",
    "example_spec",
]

Task = Literal["classification", "regression"]

#: The metrics the quality gate can compare, per task (roc_auc is one-vs-rest for multiclass).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "f1", "log_loss"),
    "regression": ("mae", "rmse", "r2"),
}
#: Metrics where a smaller value is better; the gate's direction follows the metric.
LOWER_IS_BETTER = frozenset({"mae", "rmse", "log_loss"})
DEFAULT_PRIMARY: dict[str, str] = {"classification": "roc_auc", "regression": "mae"}
#: The bar a first model (no champion yet) must reach when ``metrics.min_score`` is unset.
DEFAULT_MIN_SCORE: dict[str, float | None] = {"classification": 0.6, "regression": None}

MODEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

#: Built-in examples (``driftloop/demo/examples/<name>/``), loaded like any user's code.
EXAMPLES_DIR = Path(__file__).resolve().parent / "demo" / "examples"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MetricsSpec(_Section):
    """How the quality gate compares a challenger with the champion on the same holdout."""

    primary: str = Field("", description="the metric the gate compares; empty = the task's default")
    gate_margin: float = Field(
        0.02, ge=0, description="how much worse than the champion (in the metric's units) a challenger may be"
    )
    min_score: float | None = Field(
        None,
        description="with no champion: the bar the first model must reach (a ceiling for lower-is-better "
        "metrics); unset = 0.6 for classification, none for regression",
    )


class ResourcesSpec(_Section):
    """Requests and limits of the steps that run the user's code (preprocess, train, evaluate)."""

    cpu: str = "1"
    memory: str = "2Gi"
    cpu_limit: str = "2"
    memory_limit: str = "4Gi"


class DeploySpec(_Section):
    """How a challenger reaches live traffic: a canary (answers a share of requests) or a shadow (gets
    a mirrored copy, never answers), over one or more steps, each analysed before the next."""

    strategy: Literal["canary", "shadow"] = "canary"
    steps: list[float] = Field(
        default_factory=list,
        description="traffic share of each step, increasing, in (0, 1]; empty = one step at "
        "serving.canary_fraction (a shadow: 1.0, every request mirrored)",
    )

    @field_validator("steps")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in value):
            raise ValueError(f"deploy.steps {value} must each be in (0, 1] (a share of the traffic)")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError(f"deploy.steps {value} must increase (e.g. [0.1, 0.25, 0.5, 1.0])")
        return value


class CanarySettings(_Section):
    """The canary analysis (see workflows.deploy.analysis.CanaryLimits): the ``canary:`` section of the
    configuration holds the defaults, a model's ``canary:`` the fields it overrides (those it sets)."""

    min_requests: int = Field(100, ge=1, description="canary requests needed for a verdict")
    min_labels: int = Field(30, ge=1, description="feedback labels per side before accuracy counts")
    accuracy_margin: float = Field(0.0, ge=0, description="how much less accurate the canary may be")
    accuracy_confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="1 - the chance of rolling back a canary within every limit, over the whole watch",
    )
    error_margin: float = Field(
        0.0, ge=0, description="regression: how much larger the canary's MAE may be (label units)"
    )
    max_error_rate_increase: float = Field(0.01, ge=0)
    max_p95_latency_ratio: float = Field(1.5, gt=0, description="canary p95 / champion p95 allowed")
    latency_slack_ms: float = Field(5.0, ge=0, description="p95 differences below this are noise")
    rule: Literal["sequential", "fixed"] = Field(
        "sequential",
        description="sequential: anytime-valid confidence sequences, safe to check at every poll; fixed: "
        "the previous one-look z-test (its error rate grows with peeking; kept for comparison)",
    )
    tightest_at: float = Field(
        250.0,
        gt=0,
        description="sequential: effective labels per side where the bounds are tightest (any value is "
        "valid)",
    )


class ModelMonitorSpec(MonitorFields):
    """A model's ``monitor:`` section: the fields of its drift checks (:class:`MonitorDefinition` without
    the model's name and target, which the spec gives) and when the monitor CronWorkflow runs them."""

    schedule: str = Field("5 * * * *", description="cron (UTC) of the monitor CronWorkflow; empty = none")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value and len(value.split()) != 5:
            raise ValueError(f"schedule must be a 5-field cron expression, got {value!r}")
        return value


NotifyEvent = Literal["outcome", "verdict", "approval"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("outcome", "verdict", "approval")


class WebhookSpec(_Section):
    """One webhook: where to POST, in which body format, for which events."""

    url: SecretStr = Field(
        SecretStr(""), description="the endpoint (a secret: a Slack webhook URL carries its key); or url_env"
    )
    url_env: str = Field("", description="an environment variable holding the url (e.g. from a Secret)")
    format: Literal["slack", "json"] = "json"
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS))

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSpec:
        if bool(self.url.get_secret_value()) == bool(self.url_env):
            raise ValueError("a webhook needs one of url or url_env")
        return self


class NotificationsSpec(_Section):
    webhooks: list[WebhookSpec] = Field(default_factory=list)


class ModelSpec(_Section):
    """One model: its task, data, code, metrics, schedules and image."""

    task: Task = "classification"
    target: str = Field(min_length=1, description="the label column of the training table")
    trainer: str = Field(description="module:function — train(data, target, params) -> model")
    preprocess: str = Field("", description="module:function — DataFrame -> DataFrame, also at serving")
    dataset: str = Field(
        "", description="s3:// or local CSV/Parquet; empty = s3://<bucket>/datasets/<model>/"
    )
    code_dir: Path | None = Field(None, description="where the modules live; default: the config's directory")
    params: dict[str, Any] = Field(default_factory=dict, description="passed to the trainer")
    metrics: MetricsSpec = MetricsSpec()
    monitor: ModelMonitorSpec = Field(
        default_factory=ModelMonitorSpec,
        description="the drift checks' definition (drift_share, features, ...) and their schedule",
    )
    retrain_schedule: str = Field(
        "0 3 * * 1", description="cron (UTC) of the scheduled retrain; empty = none"
    )
    image: str = Field("", description="the image the steps run in on a cluster; empty = driftloop's")
    resources: ResourcesSpec = ResourcesSpec()
    canary: CanarySettings = Field(
        default_factory=CanarySettings, description="overrides of the canary section (the fields set here)"
    )
    deploy: DeploySpec = DeploySpec()
    approval: Literal["none", "required"] = Field(
        "none", description="required: the retrain waits before promote for `driftloop approve|reject`"
    )
    approval_timeout_s: int = Field(86400, ge=1, description="no decision by then = rejected")
    notifications: NotificationsSpec = NotificationsSpec()
    train_timeout_s: int = Field(7200, ge=10, description="the train step's deadline")
    holdout_share: float = Field(0.2, gt=0, lt=1)
    min_rows: int = Field(100, ge=2, description="fewer labelled rows fail validate-data")

    @field_validator("trainer", "preprocess")
    @classmethod
    def _ref(cls, value: str) -> str:
        if value and not _REF.match(value):
            raise ValueError(f"{value!r} is not module:function (e.g. demand_model:train)")
        return value

    @model_validator(mode="after")
    def _metric_fits_task(self) -> ModelSpec:
        allowed = TASK_METRICS[self.task]
        if self.metrics.primary and self.metrics.primary not in allowed:
            raise ValueError(
                f"metrics.primary {self.metrics.primary!r} does not fit task {self.task} "
                f"(use one of {', '.join(allowed)})"
            )
        return self

    @property
    def primary_metric(self) -> str:
        return self.metrics.primary or DEFAULT_PRIMARY[self.task]

    @property
    def min_score(self) -> float | None:
        return self.metrics.min_score if self.metrics.min_score is not None else DEFAULT_MIN_SCORE[self.task]

    @property
    def monitor_schedule(self) -> str:
        return self.monitor.schedule

    def monitor_definition(self) -> dict[str, Any]:
        """The fields the user set in ``monitor:`` but ``schedule``, as plain data: what the retrain
        template hands to the register step (the rest are :class:`MonitorDefinition`'s defaults)."""
        return self.monitor.model_dump(mode="json", exclude_unset=True, exclude={"schedule"})

    def monitor_for(self, name: str) -> MonitorDefinition:
        """The :class:`MonitorDefinition` of this model, named ``name``."""
        return MonitorDefinition(model=name, target=self.target, **self.monitor_definition())


#: The built-in examples, by name: what ``models: [credit]`` expands to.
EXAMPLES: dict[str, dict[str, Any]] = {
    "credit": {
        "task": "classification",
        "target": "default",
        "trainer": "credit_model:train",
        "code_dir": str(EXAMPLES_DIR / "credit"),
        "params": {"algorithm": "hgb"},
        "metrics": {"primary": "roc_auc", "gate_margin": 0.02, "min_score": 0.6},
        "monitor": {"schedule": "5 * * * *"},
    },
    "demand": {
        "task": "regression",
        "target": "units",
        "trainer": "demand_model:train",
        "code_dir": str(EXAMPLES_DIR / "demand"),
        "preprocess": "demand_model:preprocess",
        "params": {"max_iter": 200},
        "metrics": {"primary": "mae", "gate_margin": 0.5},
        # 2 of its 5 inputs (price, promotion) drive most of the demand: a shift in them is dataset drift
        "monitor": {"drift_share": 0.3, "schedule": "5 * * * *"},
    },
}


def example_spec(name: str) -> dict[str, Any]:
    """The spec of a built-in example as plain data (a ValueError names the known examples)."""
    if name not in EXAMPLES:
        raise ValueError(
            f"{name!r} is not a built-in example ({', '.join(EXAMPLES)}); give its spec as a mapping"
        )
    return dict(EXAMPLES[name])
