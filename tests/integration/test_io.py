"""The project's own I/O layer against the real embedded Kafka and S3."""

from __future__ import annotations

import contextlib
import json
import time

import pandas as pd
import pytest

from driftloop.errors import NotFound
from driftloop.kafka import Consumer, Publisher, read_recent
from driftloop.s3 import S3Store
from tests.conftest import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(both_brokers: Stack) -> Stack:
    """Every test here runs on Tansu and on Apache Kafka (see tests/conftest.py)."""
    return both_brokers


def drain(consumer: Consumer, want: int, timeout_s: float = 20) -> list:
    got: list = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.poll(200)
    return got


def test_publish_and_consume_commits_only_after_processing(stack, topic) -> None:
    name = topic()
    with Publisher(stack.settings) as pub:
        for i in range(3):
            pub.publish(name, {"i": i}, key="model-a")
    with Consumer(stack.settings, [name], group_id=f"g-{name}") as c:
        first = drain(c, 3)
        assert [json.loads(r.value)["i"] for r in first] == [0, 1, 2]
        assert all(r.key == "model-a" for r in first)
        # not committed: a new member of the group gets the same records again
    with Consumer(stack.settings, [name], group_id=f"g-{name}") as c:
        again = drain(c, 3)
        assert [r.offset for r in again] == [r.offset for r in first]
        c.commit()
    with Publisher(stack.settings) as pub:
        pub.publish(name, {"i": 3}, key="model-a", wait=True)
    with Consumer(stack.settings, [name], group_id=f"g-{name}") as c:
        after = drain(c, 1)
        assert [json.loads(r.value)["i"] for r in after] == [3]


def test_a_record_the_broker_refuses_is_never_lost_silently(stack, topic) -> None:
    """kafka-python's flush() returns even when a batched send failed; the Publisher's flush raises.
    A record over Apache Kafka's message.max.bytes (1 MB) is refused; a broker that takes it must
    give it back: an error or the record, never neither."""
    from driftloop.errors import ConnectionError_

    name = topic()
    big = {"blob": "x" * 2_500_000}
    pub = Publisher(stack.settings, max_request_size=8_000_000)
    try:
        pub.publish(name, big, key="k")
        pub.publish(name, {"i": 1}, key="k")
        try:
            pub.flush()
        except ConnectionError_ as exc:
            assert "2 record(s)" in str(exc) and "not acknowledged" in str(exc) and name in str(exc)
            return
    finally:
        with contextlib.suppress(ConnectionError_):
            pub.close()
    values = [json.loads(r.value) for r in read_recent(stack.settings, name)]
    assert big in values


def test_read_recent_tail_and_time_window(stack, topic) -> None:
    name = topic()
    with Publisher(stack.settings) as pub:
        for i in range(10):
            pub.publish(name, {"i": i})
    tail = read_recent(stack.settings, name, max_records=4)
    assert [json.loads(r.value)["i"] for r in tail] == [6, 7, 8, 9]
    assert len(read_recent(stack.settings, name)) == 10
    assert read_recent(stack.settings, name, since_ms=int(time.time() * 1000) + 60_000) == []


def test_s3_objects_parquet_listing_and_pointers(stack, bucket) -> None:
    store = S3Store(stack.settings, bucket=bucket)
    assert store.put_bytes("a/raw.bin", b"\x00\x01") == f"s3://{bucket}/a/raw.bin"
    assert store.get_bytes("a/raw.bin") == b"\x00\x01"
    store.put_json("a/doc.json", {"x": [1, 2]})
    assert store.get_json("a/doc.json") == {"x": [1, 2]}
    df = pd.DataFrame({"f": [1.5, 2.5], "c": ["x", "y"]})
    store.put_parquet("a/data.parquet", df)
    pd.testing.assert_frame_equal(store.get_parquet("a/data.parquet"), df)
    assert sorted(store.list("a/")) == ["a/data.parquet", "a/doc.json", "a/raw.bin"]
    assert store.exists("a/doc.json") and not store.exists("a/nope")
    with pytest.raises(NotFound, match="a/nope does not exist"):
        store.get_bytes("a/nope")
    assert store.create("a/once.json", b"1") is True
    assert store.create("a/once.json", b"2") is False
    assert store.get_bytes("a/once.json") == b"1"
    assert store.get_pointer("ptr.json") is None
    store.put_pointer("ptr.json", {"version": "v1"})
    store.put_pointer("ptr.json", {"version": "v2"})
    assert store.get_pointer("ptr.json")["version"] == "v2"


def test_read_recent_is_bounded_on_a_live_topic(stack, topic) -> None:
    """A producer that never stops must not keep read_recent reading."""
    import threading

    name = topic()
    stop = threading.Event()

    def produce() -> None:
        with Publisher(stack.settings) as pub:
            i = 0
            while not stop.is_set():
                pub.publish(name, {"i": i})
                i += 1
                time.sleep(0.005)

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    try:
        time.sleep(1.5)
        t0 = time.monotonic()
        tail = read_recent(stack.settings, name, max_records=50, timeout_s=20)
        took = time.monotonic() - t0
    finally:
        stop.set()
        writer.join(5)
    assert len(tail) == 50
    assert took < 8, f"read_recent took {took:.1f}s on a live topic"


def _topic_of_1500(stack, topic) -> str:
    """A fresh topic holding records ``{"i": 0}`` .. ``{"i": 1499}``."""
    name = topic()
    with Publisher(stack.settings) as pub:
        for i in range(1500):
            pub.publish(name, {"i": i})
        pub.flush()
    return name


@pytest.mark.parametrize("answer", [1022, 1499])
def test_a_late_time_index_answer_loses_no_record_newer_than_since(stack, topic, monkeypatch, answer) -> None:
    """The embedded Tansu broker's ListOffsets-by-time once answered offset 1,022 for a time before every
    record of a 1,500-record burst (a monitor joined 478 of 1,500 labels). The broker's answer is injected
    here on both brokers; the read must notice the record before the answer is new enough too, and read
    the partition from its start. A right answer (the record before it is older) is still used."""
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndTimestamp

    before = int(time.time() * 1000) - 1
    name = _topic_of_1500(stack, topic)
    real = KafkaConsumer.offsets_for_times

    def late(self: KafkaConsumer, timestamps: dict) -> dict:
        got = real(self, timestamps)
        return {tp: OffsetAndTimestamp(answer, before, None) for tp in got}

    monkeypatch.setattr(KafkaConsumer, "offsets_for_times", late)
    got = read_recent(stack.settings, name, since_ms=before, timeout_s=30)
    assert [json.loads(r.value)["i"] for r in got] == list(range(1500))

    # a right answer is used: only what is newer than since_ms, read from where the broker said
    after = int(time.time() * 1000) + 1
    time.sleep(0.01)
    with Publisher(stack.settings) as pub:
        pub.publish(name, {"i": 1500})
    monkeypatch.setattr(KafkaConsumer, "offsets_for_times", real)
    tail = read_recent(stack.settings, name, since_ms=after, timeout_s=30)
    assert [json.loads(r.value)["i"] for r in tail] == [1500]


def test_read_recent_reads_to_the_end_through_empty_polls(stack, topic, monkeypatch) -> None:
    """On a loaded machine a fetch can still be in flight when ``poll`` returns, so polls come back empty
    before the end. Here every real poll is followed by three empty ones:
    the read must still reach the last record, judged by the fetched high watermark — the embedded
    broker's ListOffsets answers 1 for this topic, so a rule built on it stops after the first batch."""
    from kafka import KafkaConsumer

    name = _topic_of_1500(stack, topic)

    real_poll = KafkaConsumer.poll
    calls = {"n": 0}

    def stalling_poll(
        self: KafkaConsumer, timeout_ms: int = 0, max_records: object = None, **kw: object
    ) -> dict:
        calls["n"] += 1
        if calls["n"] % 4:
            return {}
        return real_poll(self, timeout_ms=timeout_ms, max_records=500, **kw)

    monkeypatch.setattr(KafkaConsumer, "poll", stalling_poll)
    got = read_recent(stack.settings, name, timeout_s=30)
    assert [json.loads(r.value)["i"] for r in got] == list(range(1500))
    assert calls["n"] > 8  # the stall was really injected: several batches, each behind empty polls


def test_read_recent_says_when_its_deadline_cut_the_read_short(stack, topic, caplog, monkeypatch) -> None:
    """A partial read is never silent: a broker too slow for the deadline (here: 100 records a poll, each
    after a 100 ms stall) makes read_recent log a warning naming the topic."""
    from kafka import KafkaConsumer

    name = _topic_of_1500(stack, topic)
    real_poll = KafkaConsumer.poll

    def slow_poll(self: KafkaConsumer, timeout_ms: int = 0, max_records: object = None, **kw: object) -> dict:
        time.sleep(0.1)
        return real_poll(self, timeout_ms=timeout_ms, max_records=100, **kw)

    with monkeypatch.context() as patch, caplog.at_level("WARNING", logger="driftloop.kafka"):
        patch.setattr(KafkaConsumer, "poll", slow_poll)
        got = read_recent(stack.settings, name, timeout_s=0.5)
    assert len(got) < 1500  # at most 5 polls of 100 fit in the deadline
    assert any(f"reading {name} stopped at its" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="driftloop.kafka"):
        assert len(read_recent(stack.settings, name)) == 1500
    assert not caplog.records
