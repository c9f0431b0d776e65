"""Publishing a check: the report to S3 (when there is something to look at), the event to Kafka.

The event goes to ``settings.topics.drift_events`` keyed by model (so one model's events stay ordered in
one partition) with acks=all through :class:`driftloop.kafka.Publisher`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from driftloop.errors import EventError

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.events import CloudEvent
    from monitors.check import CheckResult
    from monitors.profile import ReferenceProfile

__all__ = ["drift_event_schema", "publish_event", "upload_report", "validate_event"]


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

    html = render_report(profile, current)
    return S3Store(settings).put_bytes(report_key(result), html.encode(), content_type="text/html")


def publish_event(settings: Settings, event: CloudEvent, topic: str | None = None) -> None:
    """Publish ``event`` keyed by its subject (the model) and wait for the broker's acks."""
    from driftloop.kafka import Publisher

    with Publisher(settings) as pub:
        pub.publish(topic or settings.topics.drift_events, event.to_json(), key=event.subject, wait=True)
        pub.flush()
