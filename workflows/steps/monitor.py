"""The monitor pipeline's step: one drift check of a model's champion, as ``driftloop monitor run`` does.

``monitors`` is imported inside the function so that importing the workflow definitions stays cheap.
"""

from __future__ import annotations

from typing import Any

from driftloop.errors import DataError
from workflows.steps.context import step_settings

__all__ = ["check", "check_all"]


def check_all(
    model: str = "", current: str = "kafka", minutes: float = 60.0, publish: bool = True
) -> list[dict[str, Any]]:
    """Check ``model``, or with ``model == ""`` every registered model that has a champion."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    settings = step_settings()
    registry = Registry(S3Store(settings))
    models = [model] if model else [m for m in registry.models() if registry.get_alias(m, "champion")]
    return [check(m, current, minutes, publish, settings=settings, registry=registry) for m in models]


def check(
    model: str,
    current: str = "kafka",
    minutes: float = 60.0,
    publish: bool = True,
    *,
    settings: Any = None,
    registry: Any = None,
) -> dict[str, Any]:
    """Check ``current`` (``kafka`` = the inference log's last ``minutes``, or a table URI) against the
    champion's reference profile; publish the event (and report) unless ``publish`` is false."""
    from driftloop.registry import PROFILE_FILE, Registry
    from driftloop.s3 import S3Store
    from monitors import ReferenceProfile, run_check
    from monitors.window import load_window

    settings = settings or step_settings()
    registry = registry or Registry(S3Store(settings))
    mv = registry.resolve(model, "champion")
    profile = ReferenceProfile.from_bytes(registry.get_file(model, mv.version, PROFILE_FILE))
    window, info = load_window(
        current, settings, model=model, minutes=minutes if current == "kafka" else None
    )
    result = run_check(profile, window, window=info)
    report_uri = None
    if publish and result.status != "ok":
        from monitors.publish import upload_report

        report_uri = upload_report(settings, profile, window, result)
    event = result.to_event(report_uri=report_uri)
    if publish:
        from monitors.publish import publish_event

        publish_event(settings, event)
    if result.status == "quality":
        first = next(p for p in result.quality if p.severity == "error")
        raise DataError(f"the window failed data-quality checks: {first.message}", "fix the input data")
    return {
        "status": result.status,
        "event_id": event.id,
        "drift_share": result.drift_share,
        "report_uri": report_uri or "",
    }
