"""Kafka access: a keyed publisher (acks=all, retries with backoff), a consumer that commits offsets only
after the caller has processed a batch, topic creation, and a group-less reader of a topic's tail.

The same code talks to the embedded Tansu broker and to a real Kafka; only ``Settings`` differ.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.config import Settings
from driftloop.endpoints import listening
from driftloop.errors import ConnectionError_

__all__ = [
    "Consumer",
    "Publisher",
    "Record",
    "client_options",
    "ensure_topics",
    "read_recent",
    "wait_for_kafka",
]

log = logging.getLogger(__name__)

#: Apache Kafka's default ``group.min.session.timeout.ms``
MIN_SESSION_TIMEOUT_MS = 6_000


def _unreachable(settings: Settings, exc: Exception | None = None) -> ConnectionError_:
    where = settings.bootstrap_servers
    hint = (
        "start the embedded stack with `driftloop up`"
        if settings.kafka_is_embedded
        else "check kafka.bootstrap_servers / DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS and the security settings"
    )
    detail = f" ({type(exc).__name__})" if exc else ""
    return ConnectionError_(f"Kafka at {where} is unreachable{detail}", hint)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and the admin client."""
    k = settings.kafka
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": k.client_id,
        "security_protocol": k.security_protocol,
        "request_timeout_ms": k.request_timeout_ms,
    }
    if k.sasl_mechanism:
        opts["sasl_mechanism"] = k.sasl_mechanism
        opts["sasl_plain_username"] = k.sasl_username
        opts["sasl_plain_password"] = k.sasl_password.get_secret_value()
    if k.ssl_cafile:
        opts["ssl_cafile"] = k.ssl_cafile
    return opts


def _encode(value: bytes | str | Mapping[str, Any] | Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if hasattr(value, "to_json"):
        encoded: bytes = value.to_json()
        return encoded
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class Publisher:
    """Keyed publisher with acks=all. ``publish`` returns once the broker has the record when
    ``wait=True``; otherwise records are batched and ``flush`` (called on close) waits for them."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self._settings = settings
        options: dict[str, Any] = {
            **client_options(settings),
            "acks": "all",
            "retries": 5,
            "retry_backoff_ms": 200,
            "linger_ms": 5,
            "max_block_ms": 10_000,
        }
        options.update(overrides)
        try:
            self._producer = KafkaProducer(**options)
        except KafkaError as exc:
            raise _unreachable(settings, exc) from exc
        # kafka-python's flush() waits for every send but never raises for one that failed (retries
        # exhausted, a record the broker refused): count them here, and flush says so.
        self._failed_lock = threading.Lock()
        self._failed: list[tuple[str, BaseException]] = []

    def publish(
        self,
        topic: str,
        value: bytes | str | Mapping[str, Any] | Any,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        wait: bool = False,
    ) -> None:
        from kafka.errors import KafkaError

        hdrs = [(k, v.encode()) for k, v in (headers or {}).items()]
        try:
            future = self._producer.send(
                topic, value=_encode(value), key=key.encode() if key else None, headers=hdrs or None
            )
            future.add_errback(self._on_failure, topic)
            if wait:
                future.get(timeout=self._settings.kafka.request_timeout_ms / 1000)
        except KafkaError as exc:
            raise ConnectionError_(
                f"publishing to Kafka topic {topic!r} failed: {type(exc).__name__}: {exc}",
                "check that the topic exists and the broker is reachable",
            ) from exc

    def _on_failure(self, topic: str, exc: BaseException) -> None:
        with self._failed_lock:
            self._failed.append((topic, exc))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every record published so far is acknowledged; raise when one was not (each failed
        record is reported once: a later flush reports only later failures)."""
        from kafka.errors import KafkaError

        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise _unreachable(self._settings, exc) from exc
        with self._failed_lock:
            failed, self._failed = self._failed, []
        if failed:
            topic, first = failed[0]
            raise ConnectionError_(
                f"{len(failed)} record(s) published to Kafka topic {topic!r} were not acknowledged "
                f"({type(first).__name__}: {first})",
                "check the broker's log and limits (message size, disk); the records were not written",
            )

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=5)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int
    headers: dict[str, str]


def _record(msg: Any) -> Record:
    return Record(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key.decode(errors="replace") if msg.key else None,
        value=msg.value or b"",
        timestamp_ms=msg.timestamp,
        headers={k: (v or b"").decode(errors="replace") for k, v in (msg.headers or [])},
    )


class Consumer:
    """A consumer-group member that never auto-commits: the caller processes a batch from ``poll``
    and then calls ``commit`` — so a crash between the two redelivers rather than loses."""

    def __init__(
        self,
        settings: Settings,
        topics: Iterable[str],
        group_id: str,
        auto_offset_reset: str = "earliest",
        **overrides: Any,
    ) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        max_poll = settings.kafka.max_poll_interval_ms
        options: dict[str, Any] = {
            **client_options(settings),
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": auto_offset_reset,
            "max_poll_interval_ms": max_poll,
            # never below Apache Kafka's group.min.session.timeout.ms (6 s by default): a real broker
            # refuses a shorter one with INVALID_SESSION_TIMEOUT (Tansu accepts it)
            "session_timeout_ms": max(MIN_SESSION_TIMEOUT_MS, min(10_000, max_poll)),
            "heartbeat_interval_ms": min(3_000, max_poll // 3),
            "fetch_max_wait_ms": 100,
        }
        options.update(overrides)
        try:
            self._consumer = KafkaConsumer(*topics, **options)
        except KafkaError as exc:
            raise _unreachable(settings, exc) from exc

    def poll(self, timeout_ms: int = 500, max_records: int = 500) -> list[Record]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        records = [_record(m) for msgs in batches.values() for m in msgs]
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return records

    def assigned(self) -> bool:
        """Whether the group has given this member partitions yet (joining takes a few seconds)."""
        return bool(self._consumer.assignment())

    def commit(self) -> None:
        """Commit the offsets of everything returned by ``poll`` so far."""
        self._consumer.commit()

    def __iter__(self) -> Iterator[Record]:
        while True:
            yield from self.poll()

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_kafka(settings: Settings, timeout_s: float = 30.0) -> None:
    """Block until the broker answers a metadata request, or raise ConnectionError_."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not listening(settings.bootstrap_servers, min(0.5, timeout_s)):
            last = ConnectionRefusedError(f"nothing listens at {settings.bootstrap_servers}")
            time.sleep(0.3)
            continue
        try:
            admin = KafkaAdminClient(**client_options(settings))
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.3)
    raise _unreachable(settings, last)


def ensure_topics(settings: Settings, names: Iterable[str], partitions: int | None = None) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(**client_options(settings))
    except KafkaError as exc:
        raise _unreachable(settings, exc) from exc
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in dict.fromkeys(names) if n not in existing]
        if not wanted:
            return []
        count = partitions or settings.topics.partitions
        new = [NewTopic(name=n, num_partitions=count, replication_factor=1) for n in wanted]
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(new)
        return wanted
    except KafkaError as exc:
        raise _unreachable(settings, exc) from exc
    finally:
        admin.close()


def _behind(consumer: Any, tps: list[Any]) -> list[Any]:
    """The partitions whose read position is below the high watermark of the broker's last fetch
    response; a partition with no fetch response yet counts as behind.

    Not ``end_offsets``: the embedded Tansu broker answers ListOffsets with the last batch's base offset
    plus one (1 after one batch of 1,500 records: seen here), while its fetch responses carry the true
    end. On Kafka the two agree."""
    return [tp for tp in tps if (hw := consumer.highwater(tp)) is None or consumer.position(tp) < hw]


def read_recent(
    settings: Settings,
    topic: str,
    max_records: int | None = None,
    since_ms: int | None = None,
    timeout_s: float = 10.0,
) -> list[Record]:
    """Read the tail of ``topic`` without joining a consumer group: the last ``max_records`` records
    of each partition, and/or those newer than ``since_ms`` (epoch milliseconds)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            **client_options(settings), enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100
        )
    except KafkaError as exc:
        raise _unreachable(settings, exc) from exc
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        # ListOffsets on the embedded Tansu broker lags the real end (see ``_behind``), so it only picks
        # where to start (never too late); we read to the fetched high watermark and trim to the last N.
        ends = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        if max_records is not None:
            begin = {tp: max(begin[tp], ends[tp] - max_records) for tp in tps}
        first = dict(begin)  # where a read that cannot trust the broker's time index starts
        hinted: dict[int, int] = {}  # partition -> the broker's answer to "first record at since_ms"
        if since_ms is not None:
            found = consumer.offsets_for_times({tp: since_ms for tp in tps})
            for tp in tps:
                at = found.get(tp)
                if at is not None and at.offset > begin[tp]:
                    # The embedded Tansu broker sometimes answers too late (offset 1,022 of a burst of
                    # 1,500 records all newer than since_ms). Start one record earlier: if that record is
                    # newer than since_ms too, the answer was wrong and the partition is read from `first`.
                    hinted[tp.partition] = at.offset
                    begin[tp] = at.offset - 1
        for tp in tps:
            consumer.seek(tp, begin[tp])
        by_part: dict[int, list[Record]] = {tp.partition: [] for tp in tps}
        # A live topic is never idle: stop a partition at its first record written after this call
        # began (with a little slack for clocks), so the read is bounded while producers keep going.
        until_ms = int(time.time() * 1000) + 1000
        open_parts = {tp.partition for tp in tps}
        deadline = time.monotonic() + timeout_s
        idle = 0
        ended, older, cut = "the deadline", 0, ""
        while open_parts and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200, max_records=50_000)
            idle = 0 if batch else idle + 1
            if idle >= 2:
                # Idle twice: done — unless a partition is still below its high watermark (a fetch still in
                # flight on a loaded machine returns empty polls before the end: 478 of 1,500 read in CI).
                behind = _behind(consumer, [tp for tp in tps if tp.partition in open_parts])
                if not behind:
                    ended = (
                        "the end (high watermarks "
                        + ", ".join(
                            f"{tp.partition}:{consumer.highwater(tp)}"
                            for tp in tps
                            if tp.partition in open_parts
                        )
                        + ")"
                    )
                    break
                idle = 0
            for tp, msgs in batch.items():
                if tp.partition in hinted and msgs:
                    answer = hinted.pop(tp.partition)
                    if msgs[0].offset < answer and since_ms is not None and msgs[0].timestamp >= since_ms:
                        log.debug(
                            "%s: the broker's time index answered %d; reading from %d", tp, answer, first[tp]
                        )
                        consumer.seek(tp, first[tp])
                        continue
                for m in msgs:
                    if m.timestamp > until_ms:
                        cut += f" partition {tp.partition} at {m.offset} (timestamp {m.timestamp});"
                        open_parts.discard(tp.partition)
                        consumer.pause(tp)
                        break
                    if since_ms is None or m.timestamp >= since_ms:
                        by_part[m.partition].append(_record(m))
                    else:
                        older += 1
        else:  # the deadline, not the end of the topic, ended the read: say the result is partial
            behind = _behind(consumer, [tp for tp in tps if tp.partition in open_parts])
            if behind:
                log.warning(
                    "reading %s stopped at its %.3g s deadline with partition(s) %s not read to the end: "
                    "the result is partial (a slow broker, or a topic too large for the deadline)",
                    topic,
                    timeout_s,
                    ", ".join(str(tp.partition) for tp in behind),
                )
        if not open_parts:
            ended = "records written after the read began:" + cut
        log.debug(
            "read %s from offsets %s: %d records kept, %d older than since_ms=%s; ended at %s",
            topic,
            {tp.partition: begin[tp] for tp in tps},
            sum(len(r) for r in by_part.values()),
            older,
            since_ms,
            ended,
        )
        out: list[Record] = []
        for recs in by_part.values():
            out.extend(recs[-max_records:] if max_records is not None else recs)
        out.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
        return out
    except KafkaError as exc:
        raise _unreachable(settings, exc) from exc
    finally:
        consumer.close()
