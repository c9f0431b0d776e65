"""From a Kafka record to the event data a Sensor sees — or to a dead letter saying why not.

A Kafka EventSource with ``jsonBody: true`` hands the Sensor ``{"topic", "key", "partition",
"headers", "timestamp", "body": <decoded JSON>}``; filters and parameters address ``body.*``. Before
that, a record must be a drift event: JSON, a CloudEvents 1.0 envelope of a known drift type, with the
fields ``driftloop/schemas/drift_event.v1.json`` requires (checked field by field — a full JSON-Schema
validation per record would cost more than the rest of the pipeline) and a model name that is an
RFC 1123 label (``credit\n`` must not get policy state of its own). Anything else becomes a dead letter
``{reason, detail, size, payload | payload_b64, truncated, source_topic, partition, offset}``: the payload
is cut to :data:`PAYLOAD_PREFIX` bytes, so a poison record of any size fits the dead-letter topic, and an
event larger than :data:`MAX_EVENT_BYTES` is not parsed at all.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from driftloop.kafka import Record
from driftloop.modelspec import MODEL_NAME

__all__ = ["MAX_EVENT_BYTES", "PAYLOAD_PREFIX", "DeadLetter", "dead_letter_body", "to_event_data"]

#: A drift event is a few KiB; anything over this is not one (and is not parsed).
MAX_EVENT_BYTES = 256 * 1024
#: How much of a dead record's payload its dead letter carries (the producer's limit is 1 MiB).
PAYLOAD_PREFIX = 16 * 1024

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "array": list,
}


@dataclass(frozen=True)
class DeadLetter:
    reason: str  # too-large | not-json | not-an-object | wrong-schema | unknown-type | missing-field
    # | invalid-model
    detail: str


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("driftloop").joinpath("schemas/drift_event.v1.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _type_ok(value: Any, spec: dict[str, Any]) -> bool:
    kinds = spec.get("type")
    if kinds is None:
        return True
    names = kinds if isinstance(kinds, list) else [kinds]
    for name in names:
        if name == "null" and value is None:
            return True
        py = _TYPES.get(name)
        if py is None:
            continue
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, py):
            return True
    return False


def _check(body: dict[str, Any]) -> DeadLetter | None:
    schema = _schema()
    for name in schema["required"]:
        if name not in body:
            return DeadLetter("missing-field", f"{name} is missing")
    if body.get("specversion") != "1.0":
        return DeadLetter("wrong-schema", f"specversion {body.get('specversion')!r} is not '1.0'")
    if body["type"] not in schema["properties"]["type"]["enum"]:
        return DeadLetter("unknown-type", f"type {body['type']!r} is not a drift event type")
    for name in ("id", "source", "time", "subject"):
        if not isinstance(body[name], str) or not body[name]:
            return DeadLetter("wrong-schema", f"{name} must be a non-empty string")
    if not _type_ok(body["data"], {"type": "object"}):
        return DeadLetter("wrong-schema", "data must be an object")
    data_def = schema["$defs"]["data"]
    for name in data_def["required"]:
        if name not in body["data"]:
            return DeadLetter("missing-field", f"data.{name} is missing")
        if not _type_ok(body["data"][name], data_def["properties"][name]):
            return DeadLetter("wrong-schema", f"data.{name} has the wrong type")
    model = body["data"].get("model")
    if not isinstance(model, str) or len(model) > 63 or not MODEL_NAME.fullmatch(model):
        return DeadLetter("invalid-model", f"data.model {str(model)[:80]!r} is not an RFC 1123 model name")
    return None


def to_event_data(record: Record) -> dict[str, Any] | DeadLetter:
    """The Sensor's event data for ``record``, or why it is a dead letter."""
    if len(record.value) > MAX_EVENT_BYTES:
        return DeadLetter("too-large", f"{len(record.value)} bytes, more than {MAX_EVENT_BYTES}")
    try:
        body = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return DeadLetter("not-json", str(exc)[:200])
    if not isinstance(body, dict):
        return DeadLetter("not-an-object", f"a JSON {type(body).__name__}, not an object")
    problem = _check(body)
    if problem is not None:
        return problem
    return {
        "topic": record.topic,
        "key": record.key or "",
        "partition": record.partition,
        "headers": record.headers,
        "timestamp": record.timestamp_ms,
        "body": body,
    }


def dead_letter_body(record: Record, letter: DeadLetter, sensor: str) -> dict[str, Any]:
    """The dead-letter envelope: the reason, where the record was, its size and the first
    :data:`PAYLOAD_PREFIX` bytes of its payload (text when it is UTF-8)."""
    value = record.value or b""
    prefix = value[:PAYLOAD_PREFIX]
    out: dict[str, Any] = {
        "reason": letter.reason,
        "detail": letter.detail,
        "sensor": sensor,
        "source_topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": (record.key or "")[:256] if isinstance(record.key, str) else record.key,
        "size": len(value),
        "truncated": len(value) > PAYLOAD_PREFIX,
    }
    try:
        out["payload"] = prefix.decode("utf-8")
    except UnicodeDecodeError:
        out["payload_b64"] = base64.b64encode(prefix).decode()
    return out
