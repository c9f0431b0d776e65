"""A drift check end to end — check, report, publish — written once for the CLI, the monitor step and the
demo (:func:`check_and_publish`), and the pieces it uses: the champion's reference profile from the
registry, the report to S3 (when there is something to look at), the event to Kafka.

The event goes to ``settings.topics.drift_events`` keyed by model (so one model's events stay ordered in
one partition) with acks=all through :class:`driftloop.kafka.Publisher`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, EventError

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.events import CloudEvent
    from driftloop.monitorspec import MonitorDefinition
    from driftloop.registry import Registry
    from monitors.check import CheckResult, WindowInfo
    from monitors.profile import ReferenceProfile
    from monitors.signals import PerformanceContext

__all__ = [
    "CheckOutcome",
    "champion_performance",
    "champion_profile",
    "check_and_publish",
    "drift_event_schema",
    "publish_event",
    "publish_result",
    "upload_report",
    "validate_event",
]


@cache
def drift_event_schema() -> dict[str, Any]:
    """The JSON Schema of drift events (``driftloop/schemas/drift_event.v1.json``, shipped in the wheel)."""
    text = resources.files("driftloop").joinpath("schemas/drift_event.v1.json").read_text()
    return json.loads(text)


def validate_event(event: dict[str, Any] | bytes) -> None:
    """Raise :class:`EventError` when ``event`` does not match the schema (needs ``jsonschema``)."""
    import jsonschema

    doc = json.loads(event) if isinstance(event, bytes) else event
    validator = jsonschema.Draft202012Validator(
        drift_event_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise EventError(f"drift event invalid at {where}: {error.message}", "fix the event producer")


def upload_report(
    settings: Settings, profile: ReferenceProfile, current: pd.DataFrame, result: CheckResult
) -> str:
    """Render the HTML report and store it in the bucket; returns its ``s3://`` URI."""
    from driftloop.s3 import S3Store
    from monitors.report import render_report, report_key

    html = render_report(profile, current, result=result)
    return S3Store(settings).put_bytes(report_key(result), html.encode(), content_type="text/html")


def publish_event(settings: Settings, event: CloudEvent, topic: str | None = None) -> None:
    """Publish ``event`` keyed by its subject (the model) and wait for the broker's acks."""
    from driftloop.kafka import Publisher

    with Publisher(settings) as pub:
        pub.publish(topic or settings.topics.drift_events, event.to_json(), key=event.subject, wait=True)
        pub.flush()


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result, the event built from it, and where its report went (None: no report)."""

    result: CheckResult
    event: CloudEvent
    report_uri: str | None
    published: bool

    def raise_on_quality(self) -> None:
        """A window that failed its data-quality checks is the caller's error: raise it as one line."""
        if self.result.status == "quality":
            first = next(p for p in self.result.quality if p.severity == "error")
            raise DataError(f"the window failed data-quality checks: {first.message}", "fix the input data")


def champion_profile(settings: Settings, model: str, registry: Registry | None = None) -> ReferenceProfile:
    """The reference profile registered with ``model``'s champion (raises DataError without one)."""
    from driftloop.registry import PROFILE_FILE, Registry
    from driftloop.s3 import S3Store
    from monitors.profile import ReferenceProfile

    registry = registry or Registry(S3Store(settings))
    version = registry.resolve(model, "champion").version
    profile = ReferenceProfile.from_bytes(registry.get_file(model, version, PROFILE_FILE))
    profile.model_version = version
    return profile


def champion_performance(
    settings: Settings, model: str, registry: Registry | None = None
) -> PerformanceContext | None:
    """The champion's performance context: task, primary metric and holdout metrics from its registry
    record, and its performance estimator when one was registered (None: no holdout metrics)."""
    import io

    import joblib

    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.signing import unseal
    from monitors.performance import ESTIMATOR_FILE
    from monitors.signals import PerformanceContext

    registry = registry or Registry(S3Store(settings))
    mv = registry.resolve(model, "champion")
    holdout = mv.metrics.get("holdout")
    if not isinstance(holdout, dict) or not holdout:
        return None
    task = str(mv.lineage.get("task") or ("regression" if "mae" in holdout else "classification"))
    primary = str(mv.metrics.get("primary_metric") or next(iter(holdout)))
    context = PerformanceContext(task, primary, {k: float(v) for k, v in holdout.items()})
    if ESTIMATOR_FILE in mv.files:
        raw = registry.get_file(model, mv.version, ESTIMATOR_FILE)
        estimator = joblib.load(
            io.BytesIO(unseal(registry.verifier, raw, f"{model} {mv.version} {ESTIMATOR_FILE}"))
        )
        context.estimator, context.classes = estimator, estimator.classes
    else:
        context.notes.append(
            f"{model} {mv.version} has no performance estimator (registered before it existed)"
        )
    return context


def check_and_publish(
    settings: Settings,
    profile: ReferenceProfile,
    window: pd.DataFrame,
    *,
    definition: MonitorDefinition | None = None,
    info: WindowInfo | None = None,
    publish: bool = True,
    report_uri: str | None = None,
    performance: PerformanceContext | None = None,
    labels: pd.DataFrame | None = None,
) -> CheckOutcome:
    """Check ``window`` against ``profile`` (:func:`monitors.signals.run_monitor`: drift, and performance
    when ``performance`` is given); when ``publish``, upload the report of a window where something fired
    and publish the event (acks=all). ``report_uri`` names a report written elsewhere."""
    from monitors.signals import run_monitor, split_log_fields

    result = run_monitor(profile, window, definition, info=info, performance=performance, labels=labels)
    features = split_log_fields(window, definition or profile.definition)
    return publish_result(settings, profile, result, features, publish=publish, report_uri=report_uri)


def publish_result(
    settings: Settings,
    profile: ReferenceProfile,
    result: CheckResult,
    features: pd.DataFrame | None,
    *,
    publish: bool = True,
    report_uri: str | None = None,
) -> CheckOutcome:
    """When ``publish``: upload the report of a window where something fired (``features``: the window's
    feature columns, or a sample of them) and publish the event (acks=all)."""
    if publish and features is not None and (result.status != "ok" or result.signals):
        report_uri = upload_report(settings, profile, features, result)
    event = result.to_event(report_uri=report_uri)
    if publish:
        publish_event(settings, event)
    return CheckOutcome(result, event, report_uri, publish)
