"""What ``driftloop status`` reports beyond the services: components, models, drift checks, runs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DriftloopError

__all__ = ["loop_status"]


def _last_checks(settings: Settings) -> dict[str, dict[str, Any]]:
    """The newest drift-check event per model on the drift topic (its last 500 records)."""
    from driftloop.kafka import read_recent

    latest: dict[str, dict[str, Any]] = {}
    for rec in read_recent(settings, settings.topics.drift_events, max_records=500, timeout_s=3):
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            event = json.loads(rec.value)
            data = event.get("data") or {}
            model = str(data.get("model") or event.get("subject") or "")
            if model:
                latest[model] = {
                    "time": event.get("time"),
                    "type": event.get("type"),
                    "dataset_drift": data.get("dataset_drift"),
                    "drift_share": data.get("drift_share"),
                    "event_id": event.get("id"),
                }
    return latest


def _models(settings: Settings) -> dict[str, dict[str, Any]]:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    registry = Registry(S3Store(settings))
    return {
        m: {**registry.aliases(m), "versions": len(registry.versions(m))}
        for m in sorted(set(registry.models()) | set(settings.models))
    }


def _runs(settings: Settings, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    from driftloop.local.executor import list_runs
    from driftloop.local.sensor.submission import SubmissionStore
    from driftloop.s3 import S3Store

    recent = [
        {"name": r.name, "phase": r.phase, "started": r.started, "finished": r.finished}
        for r in list_runs(Path(settings.data_dir))[:limit]
    ]
    active = [
        {"name": s.get("name"), "status": s.get("status"), "model": s.get("model")}
        for s in SubmissionStore(S3Store(settings)).all()
        if s.get("status") in ("queued", "running", "pending")
    ]
    return {"running": active, "recent": recent}


def loop_status(settings: Settings, reachable: dict[str, bool]) -> dict[str, Any]:
    """Models (champion/canary), last drift check per model, running and recent runs. A part whose
    service is unreachable is reported as ``None`` with the reason, never as an error."""
    out: dict[str, Any] = {}
    parts = (("models", "s3", _models), ("last_checks", "kafka", _last_checks), ("runs", "s3", _runs))
    for key, needs, fn in parts:
        if not reachable.get(needs):
            out[key] = None
            continue
        try:
            out[key] = fn(settings)
        except DriftloopError as exc:
            out[key] = None
            out.setdefault("errors", []).append(f"{key}: {exc}")
    return out
