"""Events across broker crashes under load: published / processed / dead-lettered / lost.

A publisher sends drift-event-sized records (5 % of them poison: not JSON) at a steady rate, each
acknowledged (acks=all) before it counts as published — a record whose publish fails during a crash is
retried. A consumer group processes them the way the local sensor does: valid records are processed
(deduplicated by id), poison records are dead-lettered with a bounded prefix, offsets are committed after
processing. Meanwhile the broker is SIGKILLed and restarted N times. At the end every published id must
have been processed or dead-lettered: ``lost`` counts the ones that were not.

The same run is made on each broker in one go: Tansu with its S3 storage, Apache Kafka (``kafka.engine:
apache``, its log on disk; jars from ``make kafka``), and Tansu's memory storage (what local mode used before)
as the baseline. ``duplicated`` counts valid records processed more than once (redelivered after a crash
between processing and the offset commit: at-least-once, which the sensor absorbs by deduplicating event ids).

    .venv/bin/python tests/benchmarks/bench_durability.py [--restarts 3] [--seconds 30] [--rate 50]
        [--only NAME]

A lost valid id is then looked up in the topic read back from the start by a fresh group: missing there,
the broker lost an acknowledged record; present, the processing group skipped it (its committed offset
passed a record it never got).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driftloop.config import Settings, load_settings
from driftloop.errors import DriftloopError
from driftloop.kafka import Consumer, Publisher, ensure_topics, wait_for_kafka
from driftloop.local.embedded import EmbeddedStack
from tests.conftest import apache_overrides, embedded_overrides

#: (name, Kafka engine, Tansu storage)
RUNS = (("tansu-s3", "tansu", "s3"), ("apache", "apache", "disk"), ("tansu-memory", "tansu", "memory"))


def _publisher(settings: Settings, topic: str, rate: float, stop: threading.Event, out: dict) -> None:
    i = 0
    while not stop.is_set():
        poison = i % 20 == 7
        value = b"\xff not json" if poison else json.dumps({"id": i, "pad": "x" * 800}).encode()
        try:
            with Publisher(settings) as pub:
                while not stop.is_set():
                    pub.publish(topic, value, key=f"m{i % 5}", wait=True)
                    out["poison" if poison else "valid"].add(i)
                    i += 1
                    poison = i % 20 == 7
                    value = b"\xff not json" if poison else json.dumps({"id": i, "pad": "x" * 800}).encode()
                    time.sleep(1.0 / rate)
        except (DriftloopError, Exception):  # the broker is down: try again until it is back
            out["retries"] += 1
            time.sleep(0.5)


def _processor(settings: Settings, topic: str, stop: threading.Event, out: dict) -> None:
    while not stop.is_set():
        try:
            with Consumer(settings, [topic], group_id="bench-durability") as consumer:
                while not stop.is_set():
                    batch = consumer.poll(300)
                    for rec in batch:
                        try:
                            ident = json.loads(rec.value)["id"]
                            if ident in out["processed"]:
                                out["duplicated"] += 1
                            out["processed"].add(ident)
                        except (ValueError, UnicodeDecodeError):
                            out["dead_lettered"].add((rec.partition, rec.offset))
                    if batch:
                        consumer.commit()
        except Exception:  # the broker is down: reconnect
            out["reconnects"] += 1
            time.sleep(0.5)


def _in_log(settings: Settings, topic: str, timeout_s: float = 90) -> tuple[set[int], int]:
    """What the topic holds now, read from the start by a fresh group until three empty polls: the valid
    ids and the count of poison records. A published id missing here was lost by the broker; one that is
    here but was never processed was skipped by the consumer group (its committed offset passed it)."""
    ids: set[int] = set()
    poison, idle = 0, 0
    with Consumer(settings, [topic], group_id=f"bench-readback-{uuid.uuid4().hex[:8]}") as consumer:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and idle < 3:
            batch = consumer.poll(500)
            idle = 0 if batch else idle + 1
            for rec in batch:
                try:
                    ids.add(json.loads(rec.value)["id"])
                except (ValueError, UnicodeDecodeError):
                    poison += 1
    return ids, poison


def run(name: str, engine: str, storage: str, restarts: int, seconds: float, rate: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-durability-{name}-"))
    overrides = apache_overrides(tmp / "data") if engine == "apache" else embedded_overrides(tmp / "data")
    settings = load_settings(env={}, overrides=overrides)
    stack = EmbeddedStack(settings, kafka_storage=storage)  # type: ignore[arg-type]
    stack.start()
    topic = f"drift-{uuid.uuid4().hex[:6]}"
    out: dict = {"valid": set(), "poison": set(), "processed": set(), "dead_lettered": set()}
    out.update(retries=0, reconnects=0, duplicated=0)
    stop = threading.Event()
    try:
        ensure_topics(settings, [topic])
        threads = [
            threading.Thread(target=_publisher, args=(settings, topic, rate, stop, out), daemon=True),
            threading.Thread(target=_processor, args=(settings, topic, stop, out), daemon=True),
        ]
        for t in threads:
            t.start()
        kafka = next(s for s in stack.services if s.name == "kafka")
        for _ in range(restarts):
            time.sleep(seconds / (restarts + 1))
            assert kafka.pid is not None
            os.killpg(kafka.pid, signal.SIGKILL)
            kafka.stop(0)
            kafka.start()
            wait_for_kafka(settings, timeout_s=60)
            with contextlib.suppress(DriftloopError):
                ensure_topics(settings, [topic])  # memory storage forgets the topic itself
        time.sleep(seconds / (restarts + 1))
        stop.set()
        for t in threads:
            t.join(timeout=30)
        # drain what the processor had not reached yet
        stop2 = threading.Event()
        drain = threading.Thread(target=_processor, args=(settings, topic, stop2, out), daemon=True)
        drain.start()
        time.sleep(8)
        stop2.set()
        drain.join(timeout=30)
        in_log, _ = _in_log(settings, topic)
    finally:
        stack.stop()
    published = len(out["valid"]) + len(out["poison"])
    lost = len(out["valid"] - out["processed"]) + max(0, len(out["poison"]) - len(out["dead_lettered"]))
    unprocessed = out["valid"] - out["processed"]
    return {
        # of the valid ids never processed: not in the log (the broker lost them) / in it (skipped)
        "missing_from_log": sorted(unprocessed - in_log),
        "skipped_in_log": sorted(unprocessed & in_log),
        "name": name,
        "published": published,
        "processed": len(out["valid"] & out["processed"]),
        "dead_lettered": min(len(out["dead_lettered"]), len(out["poison"])),
        "lost": lost,
        "duplicated": out["duplicated"],
        "publish_retries": out["retries"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--only", choices=[r[0] for r in RUNS], help="run one broker only (diagnosis)")
    args = parser.parse_args()
    runs = [r for r in RUNS if args.only in (None, r[0])]
    rows = [run(*r, args.restarts, args.seconds, args.rate) for r in runs]
    print(
        f"{args.restarts} broker crashes (SIGKILL + restart) in {args.seconds:g}s at ~{args.rate:g} events/s"
    )
    for r in rows:
        print(
            f"  {r['name']:<12}: published {r['published']}, processed {r['processed']}, "
            f"dead-lettered {r['dead_lettered']}, lost {r['lost']} "
            f"({r['lost'] / max(1, r['published']):.1%}), duplicated {r['duplicated']}; "
            f"publish retries {r['publish_retries']}"
        )
        if r["missing_from_log"] or r["skipped_in_log"]:
            print(
                f"    valid ids lost: missing from the log (broker) {r['missing_from_log'][:20]}; "
                f"in the log but skipped by the group {r['skipped_in_log'][:20]}"
            )
    if args.only:
        return
    s3, apache, memory = rows
    print(
        f"lost: tansu-s3 {s3['lost']}, apache {apache['lost']}, baseline tansu-memory {memory['lost']}; "
        f"duplicated: tansu-s3 {s3['duplicated']}, apache {apache['duplicated']}"
    )


if __name__ == "__main__":
    main()
