"""The trigger rule: which events start which retrain run, with which parameters — defined once.

:class:`TriggerRule` is compiled by :mod:`sensors.manifests` into the Sensor's dependency filters and
its ``k8s`` trigger that creates the Workflow. The local sensor (:mod:`driftloop.local.sensor`) never
reads this class: it reads the *compiled* Sensor YAML, so a wrong filter shows up locally first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from driftloop.contracts import RETRAIN_TEMPLATE
from driftloop.errors import ConfigError
from driftloop.events import RETRAIN_TRIGGERS

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["DEFAULT_RULE", "TriggerRule"]


@dataclass(frozen=True)
class TriggerRule:
    """One event → run rule.

    Attributes:
        name: the Sensor name (``metadata.name``) and the base of the trigger name.
        event_types: the CloudEvent ``type``s that may trigger (:data:`driftloop.events.RETRAIN_TRIGGERS`:
            ``io.driftloop.drift.detected``, ``io.driftloop.performance.degraded``), and only when the
            event's ``data.retrain`` is true (the monitor decided, from its definition's ``triggers``).
        models: the monitored set; an event for another model is filtered out. ``None`` (the
            default) = ``settings.models``, filled in by :meth:`for_settings` when rendering;
            ``()`` = any model.
        min_drift_share: when set, an ``exprs`` filter requires ``data.drift_share >= min_drift_share``.
        template: the WorkflowTemplate the trigger runs (``workflowTemplateRef``).
        reason: the ``reason`` workflow parameter when the event carries no ``data.reason`` (``drift``).
        dependency: the Sensor dependency name.
        event_source / event_name: the EventSource and its Kafka entry the dependency listens to.
        rate_per_minute: the trigger's ``rateLimit`` (Argo Events throttles, it never drops).
        retry_steps: the trigger's ``retryStrategy.steps``.
    """

    name: str = "driftloop-drift"
    event_types: tuple[str, ...] = RETRAIN_TRIGGERS
    models: tuple[str, ...] | None = None
    min_drift_share: float | None = None
    template: str = RETRAIN_TEMPLATE
    reason: str = "drift"
    dependency: str = "drift"
    event_source: str = "driftloop-kafka"
    event_name: str = "drift-events"
    rate_per_minute: int = 30
    retry_steps: int = 3

    def for_settings(self, settings: Settings) -> TriggerRule:
        """This rule with ``models`` taken from ``settings.models`` when the rule leaves it unset."""
        if self.models is not None:
            return self
        if not settings.models:
            raise ConfigError(
                "settings.models is empty: the Sensor would retrain no model",
                "set `models` (e.g. DRIFTLOOP_MODELS=credit) to the models to monitor",
            )
        return replace(self, models=tuple(settings.models))

    def model_patterns(self) -> list[str]:
        """Anchored regular expressions, one per model: Argo's string data filter is an unanchored
        ``regexp.Match``, so ``credit`` alone would also pass ``credit-v2``."""
        return [f"^{re.escape(m)}$" for m in self.models or ()]

    def type_patterns(self) -> list[str]:
        """Anchored regular expressions, one per event type (one match is enough)."""
        return [f"^{re.escape(t)}$" for t in self.event_types]


DEFAULT_RULE = TriggerRule()
