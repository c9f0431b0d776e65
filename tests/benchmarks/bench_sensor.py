"""Local sensor benchmark on the embedded Kafka + S3 (run as a script, not collected by pytest).

1. latency: drift events published at 10 events/s, each admitted (distinct models, cooldown 0) →
   publish → durable submission (p50/p99), measured from the record timestamp to the submission write.
2. throughput at saturation, filters and dedup on: a backlog of N records (60% matching drift events of
   50 models with policies on — most dropped by cooldown, 20% repeats of the same ids, 20% filtered
   out) consumed from the start; events/s until all are committed.
Baseline, same run: a bare consumer loop over the same backlog (poll + commit, no evaluation).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driftloop.config import load_settings
from driftloop.kafka import Consumer, Publisher, ensure_topics
from driftloop.local.embedded import EmbeddedStack
from driftloop.local.sensor.service import LocalSensor
from driftloop.s3 import S3Store
from sensors.manifests import render_sensor_manifests
from sensors.rule import TriggerRule
from tests.conftest import embedded_overrides

CASE = json.loads((Path(__file__).parents[1] / "unit" / "sensor_cases" / "drift_event.json").read_text())
MODELS = [f"m{i:03d}" for i in range(200)]


def event(model: str, eid: str | None = None, drift: bool = True) -> bytes:
    body = json.loads(json.dumps(CASE))
    body["id"] = eid or str(uuid.uuid4())
    body["data"]["model"] = model
    body["data"]["dataset_drift"] = drift
    if not drift:
        body["type"] = "io.driftloop.drift.checked"
        body["data"]["status"] = "ok"
    return json.dumps(body).encode()


def setup(base: dict, tmp: Path, name: str, **extra: object):
    topics = {f"topics.{t}": f"bench-{name}-{t}" for t in ("drift_events", "dead_letters", "outcomes")}
    s = load_settings(
        env={},
        overrides={
            **base,
            **topics,
            "s3.bucket": f"bench-{name}",
            "manifests_dir": str(tmp / name),
            "sensor.consumer_group": f"g-{name}",
            **extra,
        },
    )
    ensure_topics(s, list(topics.values()))
    S3Store(s).ensure_bucket()
    for rel, text in render_sensor_manifests(s, TriggerRule(models=tuple(MODELS))).items():
        (tmp / name / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name / rel).write_text(text)
    return s


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(base: dict, tmp: Path, n: int = 200) -> list[float]:
    import threading

    s = setup(
        base,
        tmp,
        "lat",
        **{"sensor.cooldown_s": 0, "sensor.max_pending": 10**6, "sensor.storm_max_per_hour": 10**6},
    )
    lat: list[float] = []

    def hook(subs: list[dict]) -> None:
        now = time.time()
        lat.extend(now - sent[sub["event_id"]] for sub in subs)

    sent: dict[str, float] = {}
    sensor = LocalSensor(s, execute=False, after_submit=hook)
    stop = threading.Event()
    th = threading.Thread(target=sensor.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    time.sleep(4)  # consumer group join
    with Publisher(s, linger_ms=0) as pub:
        for i in range(n):
            eid = str(uuid.uuid4())
            sent[eid] = time.time()
            pub.publish(s.topics.drift_events, event(MODELS[i % len(MODELS)], eid), key=str(i))
            time.sleep(0.1)
    deadline = time.time() + 10
    while len(lat) < n and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    th.join(10)
    sensor.stop()
    return lat


def backlog(s, n: int) -> None:
    ids = [str(uuid.uuid4()) for _ in range(n // 5)]
    with Publisher(s) as pub:
        for i in range(n):
            r = i % 10
            if r < 6:
                payload = event(MODELS[i % 50])
            elif r < 8:
                payload = event(MODELS[i % 50], ids[i % len(ids)])
            else:
                payload = event(MODELS[i % 50], drift=False)
            pub.publish(s.topics.drift_events, payload)


def bare(s, n: int) -> float:
    with Consumer(s, [s.topics.drift_events], "bare-" + uuid.uuid4().hex[:6]) as c:
        got, t0 = 0, None
        while got < n:
            recs = c.poll(timeout_ms=200, max_records=1000)
            if recs and t0 is None:
                t0 = time.perf_counter()
            got += len(recs)
            c.commit()
        return n / (time.perf_counter() - t0)


def sensor_rate(s, n: int) -> tuple[float, LocalSensor]:
    import threading

    sensor = LocalSensor(s, execute=False)
    seen = {"n": 0, "t0": None}
    orig = sensor.process

    def process(records, publisher):
        if seen["t0"] is None:
            seen["t0"] = time.perf_counter()
        out = orig(records, publisher)
        seen["n"] += len(records)
        return out

    sensor.process = process  # type: ignore[method-assign]
    stop = threading.Event()
    th = threading.Thread(target=sensor.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    while seen["n"] < n:
        time.sleep(0.01)
    elapsed = time.perf_counter() - seen["t0"]
    stop.set()
    th.join(10)
    sensor.stop()
    return n / elapsed, sensor


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sensor-"))
    base = embedded_overrides(tmp / "stack")
    stack = EmbeddedStack(load_settings(env={}, overrides=base))
    stack.start()
    try:
        lat = latency(base, tmp)
        print(
            f"latency at 10 events/s ({len(lat)} runs submitted): p50 {pct(lat, 0.5) * 1000:.1f} ms, "
            f"p99 {pct(lat, 0.99) * 1000:.1f} ms (target p99 <= 250 ms)"
        )
        n = 20_000
        s = setup(base, tmp, "thr", **{"sensor.cooldown_s": 600})
        backlog(s, n)
        base_rate = bare(s, n)
        rate, sensor = sensor_rate(s, n)
        m = sensor.metrics
        print(
            f"throughput, {n} records (60% drift of 50 models, 20% repeated ids, 20% filtered), "
            f"filters + dedup + policies on: {rate:,.0f} events/s (target >= 2,000)"
        )
        print(
            f"  triggered {m.triggered._value.get():.0f}, deduplicated {m.deduplicated._value.get():.0f}, "
            f"filtered {m.filtered._value.get():.0f}, "
            f"cooldown {m.rejected.labels('cooldown')._value.get():.0f}"
        )
        print(
            f"baseline bare consumer loop (poll + commit, no evaluation): {base_rate:,.0f} events/s; "
            f"sensor / baseline = {rate / base_rate:.2f}"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
