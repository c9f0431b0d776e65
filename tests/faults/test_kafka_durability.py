"""Durable embedded Kafka: records acknowledged by the broker survive a broker crash and a restart of the
whole embedded stack — on Tansu keeping its log on the embedded S3 (``kafka_storage="s3"``) and on Apache
Kafka (``kafka.engine: apache``, its log on disk); with Tansu's memory storage they do not (documented here,
with figures)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from driftloop.config import Settings, load_settings
from driftloop.kafka import Consumer, Publisher, ensure_topics, wait_for_kafka
from driftloop.local.embedded import EmbeddedStack, KafkaStorage
from tests.conftest import BROKERS, apache_overrides, embedded_overrides

pytestmark = pytest.mark.integration

N = 200


def _publish(settings: Settings, topic: str, start: int, count: int) -> int:
    """Publish ``count`` keyed records, each acknowledged (acks=all) before the next; return how many."""
    with Publisher(settings) as pub:
        for i in range(start, start + count):
            pub.publish(topic, {"i": i}, key=f"k{i}", wait=True)
    return count


def _read_back(settings: Settings, topic: str, expect: int, timeout_s: float = 60) -> set[int]:
    """The distinct record numbers a fresh consumer group reads from the start of ``topic``."""
    seen: set[int] = set()
    with Consumer(settings, [topic], group_id=f"durability-{uuid.uuid4().hex[:8]}") as consumer:
        deadline = time.monotonic() + timeout_s
        idle = 0
        while time.monotonic() < deadline and (len(seen) < expect or idle < 3):
            batch = consumer.poll(300)
            idle = 0 if batch else idle + 1
            seen.update(json.loads(r.value)["i"] for r in batch)
            if len(seen) >= expect and idle >= 3:
                break
    return seen


def _crash_and_restart_kafka(stack: EmbeddedStack) -> None:
    kafka = next(s for s in stack.services if s.name == "kafka")
    assert kafka.pid is not None
    os.killpg(kafka.pid, signal.SIGKILL)  # a crash, not a clean shutdown
    kafka.stop(0)
    kafka.start()
    wait_for_kafka(stack.settings, timeout_s=30)


def _report(what: str, published: int, seen: set[int], expected: set[int]) -> int:
    lost = len(expected - seen)
    print(f"{what}: published {published}, read back {len(seen & expected)}, lost {lost}")
    return lost


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(env={}, overrides={**embedded_overrides(tmp_path / "data"), **extra})


@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", BROKERS)
def test_durable_storage_loses_nothing_across_broker_crash_and_stack_restart(
    tmp_path: Path, engine: str
) -> None:
    """Tansu with its S3 storage, Apache Kafka with its log on disk: the same promise, the same figures."""
    overrides = (
        embedded_overrides(tmp_path / "data") if engine == "tansu" else apache_overrides(tmp_path / "data")
    )
    settings = load_settings(env={}, overrides=overrides)
    what = "tansu, s3 storage" if engine == "tansu" else "apache kafka, disk log"
    topic = f"durability-{uuid.uuid4().hex[:6]}"
    stack = EmbeddedStack(settings, kafka_storage="s3")  # Apache Kafka keeps its own log on disk
    stack.start()
    try:
        if engine == "tansu":
            assert [s.name for s in stack.services] == ["s3", "kafka"]  # S3 first; stop in reverse
        ensure_topics(settings, [topic], partitions=3)
        published = _publish(settings, topic, 0, N)
        _crash_and_restart_kafka(stack)
        lost = _report(
            f"{what}, broker SIGKILLed + restarted",
            published,
            _read_back(settings, topic, N),
            set(range(N)),
        )
        assert lost == 0
    finally:
        stack.stop()

    # The whole stack (SeaweedFS too) stopped and started again on the same data_dir.
    stack = EmbeddedStack(settings, kafka_storage="s3")
    stack.start()
    try:
        seen = _read_back(settings, topic, N)
        assert _report(f"{what}, whole stack restarted", N, seen, set(range(N))) == 0
        # Appends after the restart continue the log; nothing earlier is overwritten.
        more = _publish(settings, topic, N, N)
        seen = _read_back(settings, topic, 2 * N)
        assert _report(f"{what}, after restart + more", N + more, seen, set(range(2 * N))) == 0
    finally:
        stack.stop()


@pytest.mark.timeout(120)
def test_memory_storage_loses_everything_on_broker_restart(tmp_path: Path) -> None:
    """The default today — the documented limitation. Only the broker runs (S3 set elsewhere, unused)."""
    storage: KafkaStorage = "memory"
    settings = _settings(tmp_path, **{"s3.endpoint_url": "http://127.0.0.1:1"})
    topic = f"volatile-{uuid.uuid4().hex[:6]}"
    stack = EmbeddedStack(settings, kafka_storage=storage)
    stack.start(wait=False)
    try:
        wait_for_kafka(settings, timeout_s=30)
        ensure_topics(settings, [topic], partitions=3)
        published = _publish(settings, topic, 0, N)
        _crash_and_restart_kafka(stack)
        ensure_topics(settings, [topic], partitions=3)  # the topic itself is gone too
        seen = _read_back(settings, topic, N, timeout_s=10)
        assert _report("memory storage, broker restarted", published, seen, set(range(N))) == N
    finally:
        stack.stop()
