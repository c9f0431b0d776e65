"""The monitor pipeline's step: one check (drift and performance) of a model's champion, as
``driftloop monitor run`` does.

``monitors`` is imported inside the function so that importing the workflow definitions stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry

__all__ = ["check", "check_all"]


def check_all(
    settings: Settings, model: str = "", current: str = "kafka", minutes: float = 60.0, publish: bool = True
) -> list[dict[str, Any]]:
    """Check ``model``, or with ``model == ""`` every registered model that has a champion."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    registry = Registry(S3Store(settings))
    models = [model] if model else [m for m in registry.models() if registry.get_alias(m, "champion")]
    return [check(m, current, minutes, publish, settings=settings, registry=registry) for m in models]


def check(
    model: str,
    current: str = "kafka",
    minutes: float = 60.0,
    publish: bool = True,
    *,
    settings: Settings,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Check ``current`` (``kafka`` = the inference log's last ``minutes``, or a table URI) against the
    champion's reference profile; publish the event (and report) unless ``publish`` is false."""
    from monitors.publish import champion_performance, champion_profile, check_and_publish
    from monitors.window import load_labels, load_window, window_start_ms

    profile = champion_profile(settings, model, registry)
    window, info = load_window(
        current,
        settings,
        model=model,
        minutes=minutes if current == "kafka" else None,
        prediction=profile.definition.prediction,
        log_fields=True,
    )
    performance = champion_performance(settings, model, registry)
    # An inference-log window is labelled by the feedback topic (labels that arrived since the window
    # began); a table window by its own target column, when it has one.
    labels = (
        load_labels("kafka", settings, model=model, since_ms=window_start_ms(info))
        if current == "kafka" and performance is not None
        else None
    )
    out = check_and_publish(
        settings, profile, window, info=info, publish=publish, performance=performance, labels=labels
    )
    out.raise_on_quality()
    return {
        "status": out.result.status,
        "event_id": out.event.id,
        "event_type": out.event.type,
        "drift_share": out.result.drift_share,
        "signals": ",".join(out.result.signals),
        "reason": out.result.reason or "",
        "report_uri": out.report_uri or "",
    }
