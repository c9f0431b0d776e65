"""Loading the current window: CSV / Parquet (local or ``s3://``) or the tail of the inference-log topic.

Inference-log records (JSON, one per Kafka message) are accepted in these shapes::

    {"model": "credit", "model_version": "3", "features": {"age": 41, ...}, "prediction": 1,
     "timestamp": 1732500000000, "request_id": "..."}                       # one prediction
    {"model": "credit", "features": [{...}, {...}], "predictions": [1, 0]}  # a batch
    {"age": 41, ..., "prediction": 1, "probability": 0.83, "model": "credit",   # flat: what the model
     "model_version": "v3", "request_id": "r-17", "timestamp": 1732500000000,   # server logs
     "latency_ms": 1.2}                                                          # (driftloop/serving)

A multiclass model's records also carry ``"probabilities": [p_0, ..., p_k-1]`` (every class, in the
model's ``classes_`` order), what multiclass CBPE and the measured ROC AUC / log loss need.

Records of other models are skipped. Metadata fields (model, version, ids, timestamps, latency, the
predicted class's ``probability``, a multiclass model's ``probabilities``, a failed prediction's
``error``) are never columns of the window, so a window read from the log has the model's feature
columns only — plus the prediction, under the monitor definition's ``prediction`` column name, when the
definition monitors one. A failed prediction (``error``, no ``prediction``) still contributes its
features: the inputs the model saw are what drift is about.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, NotFound, UsageError
from monitors.check import WindowInfo

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings

__all__ = ["frame_from_records", "load_labels", "load_table", "load_window", "window_start_ms"]

log = logging.getLogger("driftloop.monitor")

#: Inference-log fields that are not model inputs (see ``driftloop/serving/service.py``).
_META = frozenset(
    {
        "model",
        "model_version",
        "version",
        "request_id",
        "timestamp",
        "ts",
        "latency_ms",
        "latency_s",
        "route",
        "id",
        "probability",
        "probabilities",
        "error",
    }
)
_PREDICTION = "prediction"  # the log's prediction field (a batch record: "predictions")


def _read_table(data: bytes | Path, name: str) -> pd.DataFrame:
    import io

    import pandas as pd

    src: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    lower = name.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            return pd.read_parquet(src)
        if lower.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(src)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {name}: {exc}", "pass a valid CSV or Parquet file") from None
    raise UsageError(f"{name}: unknown table format", "use a .csv or .parquet file")


def load_table(uri: str, settings: Settings | None = None) -> pd.DataFrame:
    """Read a CSV / Parquet table from a local path or ``s3://bucket/key``."""
    if uri.startswith("s3://"):
        from driftloop.s3 import S3Store, parse_s3_uri

        if settings is None:
            raise UsageError(f"{uri}: reading from S3 needs settings")
        bucket, key = parse_s3_uri(uri)
        try:
            data = S3Store(settings, bucket=bucket).get_bytes(key)
        except NotFound:
            raise DataError(f"{uri} does not exist", "check the bucket and key") from None
        return _read_table(data, key)
    path = Path(uri)
    if not path.is_file():
        raise UsageError(f"{uri}: no such file", "pass an existing CSV / Parquet file or an s3:// URI")
    return _read_table(path, path.name)


def frame_from_records(
    values: list[dict[str, Any]],
    model: str | None = None,
    prediction: str | None = None,
    *,
    log_fields: bool = False,
) -> pd.DataFrame:
    """Flatten inference-log records (see the module docstring) into one row per prediction.

    ``prediction``: the column the log's prediction goes to (the monitor definition's ``prediction``);
    ``None`` drops it, so a check whose reference has no prediction column sees no extra column.
    ``log_fields``: also keep ``request_id``, ``prediction`` and ``probability`` — and ``probabilities``
    when a record has them (a multiclass model's) — of flat records, what a performance check needs
    (:data:`monitors.signals.LOG_FIELDS`; the drift check drops them)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for rec in values:
        if model is not None and rec.get("model", model) != model:
            continue
        if rec.get("route") == "shadow":  # a shadow's copy of a request the champion answered: not traffic
            continue
        feats = rec.get("features")
        if feats is None:
            row = {k: v for k, v in rec.items() if k not in _META and k != _PREDICTION}
            if prediction is not None:
                row[prediction] = rec.get(_PREDICTION)
            if log_fields:
                row.update({k: rec.get(k) for k in ("request_id", _PREDICTION, "probability")})
                if "probabilities" in rec:
                    row["probabilities"] = rec["probabilities"]
            rows.append(row)
            continue
        preds = rec.get("predictions", rec.get(_PREDICTION))
        if isinstance(feats, dict):
            feats, preds = [feats], [preds]
        elif not isinstance(preds, list):
            preds = [preds] * len(feats)
        for f, p in zip(feats, preds, strict=False):
            rows.append({**f, prediction: p} if prediction is not None else dict(f))
    return pd.DataFrame.from_records(rows)


def load_window(
    current: str,
    settings: Settings | None = None,
    *,
    model: str | None = None,
    last: int | None = None,
    minutes: float | None = None,
    topic: str | None = None,
    prediction: str | None = None,
    log_fields: bool = False,
) -> tuple[pd.DataFrame, WindowInfo]:
    """Load the current window named by ``current``: a path, an ``s3://`` URI, or ``kafka`` /
    ``kafka://<topic>`` (the inference log: the last ``last`` records and/or the last ``minutes``;
    ``prediction`` and ``log_fields`` as in :func:`frame_from_records`)."""
    if current == "kafka" or current.startswith("kafka://"):
        if settings is None:
            raise UsageError("reading the inference log needs settings")
        name = (
            current.removeprefix("kafka://")
            if current != "kafka"
            else (topic or settings.topics.inference_log)
        )
        return _from_kafka(settings, name, model, last, minutes, prediction, log_fields)
    if last is not None or minutes is not None:
        raise UsageError("--last / --minutes apply only to --current kafka", "drop them for a file window")
    return load_table(current, settings), WindowInfo(source=current)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_kafka(
    settings: Settings,
    topic: str,
    model: str | None,
    last: int | None,
    minutes: float | None,
    prediction: str | None = None,
    log_fields: bool = False,
) -> tuple[pd.DataFrame, WindowInfo]:
    from driftloop.kafka import read_recent

    if last is None and minutes is None:
        raise UsageError(
            "--current kafka needs --last N and/or --minutes T", "say how much of the log to check"
        )
    since = int((time.time() - minutes * 60) * 1000) if minutes is not None else None
    records = read_recent(settings, topic, max_records=last, since_ms=since)
    values: list[dict[str, Any]] = []
    bad = 0
    for rec in records:
        try:
            value = json.loads(rec.value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(value, dict):
            values.append(value)
        else:
            bad += 1
    if records and not values:
        raise DataError(
            f"none of the {len(records)} records on {topic!r} is a JSON object",
            "log predictions as JSON objects (see monitors/window.py)",
        )
    if bad:
        log.warning("skipped %d inference-log records on %s that are not JSON objects", bad, topic)
    frame = frame_from_records(values, model, prediction, log_fields=log_fields)
    offsets: dict[str, list[int]] = {}
    for rec in records:
        lo_hi = offsets.setdefault(str(rec.partition), [rec.offset, rec.offset])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], rec.offset), max(lo_hi[1], rec.offset)
    info = WindowInfo(
        source=f"kafka://{topic}",
        start=_iso(records[0].timestamp_ms) if records else None,
        end=_iso(records[-1].timestamp_ms) if records else None,
        offsets=offsets or None,
    )
    return frame, info


def load_labels(
    source: str, settings: Settings | None = None, *, model: str | None = None, since_ms: int | None = None
) -> pd.DataFrame:
    """Feedback labels, ``request_id`` and ``label`` in arrival order: ``kafka`` (the feedback topic,
    records of ``model`` newer than ``since_ms`` — labels arrive after their predictions, so pass the
    window's start) or a CSV / Parquet table with those two columns."""
    import pandas as pd

    if source != "kafka":
        table = load_table(source, settings)
        missing = [c for c in ("request_id", "label") if c not in table.columns]
        if missing:
            raise DataError(f"{source}: the labels lack columns {missing}", "give request_id and label")
        return table[["request_id", "label"]]
    from driftloop.kafka import read_recent

    if settings is None:
        raise UsageError("reading the feedback topic needs settings")
    rows: list[dict[str, Any]] = []
    for rec in read_recent(settings, settings.topics.feedback, since_ms=since_ms):
        try:
            value = json.loads(rec.value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(value, dict) or "request_id" not in value:
            continue
        if model is not None and value.get("model", model) != model:
            continue
        rows.append({"request_id": str(value["request_id"]), "label": value.get("label")})
    return pd.DataFrame(rows, columns=["request_id", "label"])


def window_start_ms(info: WindowInfo) -> int | None:
    """The epoch milliseconds of the window's first record (None: a file window, no time bounds)."""
    if not info.start:
        return None
    return int(datetime.fromisoformat(info.start.replace("Z", "+00:00")).timestamp() * 1000)
