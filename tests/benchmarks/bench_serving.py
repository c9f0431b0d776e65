"""p50/p99 latency of a 1-row predict at concurrency 1 and 64, every prediction logged to Kafka (embedded
Tansu + SeaweedFS), for three ways of calling the same ``PredictionService`` in one run:

* **baseline** — ``PredictionService.predict`` called in-process (no HTTP; at concurrency 64 from 64
  threads), next to the bare ``model.predict_proba`` on a 1-row DataFrame;
* **old** — the previous ``http.server`` layer (``ThreadingHTTPServer``, a thread per connection),
  loaded from git: ``git show 823d525:driftloop/serving/handler.py`` (the last commit that has it) into a
  temporary module, serving the same services;
* **new** — the ASGI app on uvicorn (:class:`driftloop.serving.ModelServer`).

The HTTP load comes from a separate process (raw asyncio keep-alive connections, one request at a time
per connection), so the client does not share the server's GIL; old and new take turns in ``ROUNDS``
rounds, so load from elsewhere on the machine spreads over both. PASS: the new server's p99 at
concurrency 64 below the old one's (p99 <= 20 ms at concurrency 1 is printed as a target too).
``BENCH_PREDICT_THREADS`` sets the new server's ``predict_threads`` (0: predict on the event loop).

Run: ``.venv/bin/python tests/benchmarks/bench_serving.py [requests-per-level]``
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

NUMERIC = ["age", "income", "loan_amount", "credit_score", "debt_to_income"]
LEGACY_COMMIT = "823d525"  # the last commit with driftloop/serving/handler.py (http.server)
PATH = "/v1/models/credit/predict"  # served by both the old and the new layer
ROUNDS = 4


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the load generator (runs in its own process) ---------------------------------------------------
async def _connection(host: str, port: int, bodies: list[bytes], out: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for body in bodies:
            head = (
                f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            status_and_headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in status_and_headers.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
            out.append((time.perf_counter() - t0) * 1000)
            if not status_and_headers.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{status_and_headers[:40]!r} {payload[:200]!r}")
    finally:
        writer.close()


async def _load(url: str, concurrency: int, n: int, rows: list[dict[str, Any]]) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    per = max(1, n // concurrency)
    out: list[float] = []
    jobs = []
    for c in range(concurrency):
        bodies = [
            json.dumps({"instances": [rows[(c * per + i) % len(rows)]], "request_id": f"b{c}-{i}"}).encode()
            for i in range(per)
        ]
        jobs.append(_connection(host, int(port), bodies, out))
    await asyncio.gather(*jobs)
    return out


def load_main(url: str, concurrency: int, n: int, rows_file: str) -> None:
    rows = json.loads(Path(rows_file).read_text())
    print(json.dumps(asyncio.run(_load(url, concurrency, n, rows))))


def measure_http(url: str, concurrency: int, n: int, rows_file: str) -> list[float]:
    """Latencies (ms) from a load-generator process; a warm-up round first."""
    cmd = [sys.executable, __file__, "--load", url, str(concurrency)]
    subprocess.run([*cmd, str(min(n, 4 * concurrency)), rows_file], check=True, capture_output=True)
    done = subprocess.run([*cmd, str(n), rows_file], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


# --- in-process baseline ----------------------------------------------------------------------------
def measure_direct(call: Any, concurrency: int, n: int) -> list[float]:
    out: list[float] = []
    lock = threading.Lock()
    per = max(1, n // concurrency)

    def worker(c: int) -> None:
        mine = []
        for i in range(per):
            t0 = time.perf_counter()
            call(c * per + i)
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def legacy_server_class() -> Any:
    """``ServingHTTPServer`` of the previous ``http.server`` layer, loaded from git into a temp module."""
    source = subprocess.run(
        ["git", "show", f"{LEGACY_COMMIT}:driftloop/serving/handler.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "legacy_handler.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("legacy_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ServingHTTPServer


def main(n: int = 3200) -> None:
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from driftloop.config import load_settings
    from driftloop.kafka import ensure_topics, read_recent
    from driftloop.local.embedded import EmbeddedStack
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.serving import ModelServer
    from monitors.datasets import TARGET, make_credit
    from tests.conftest import embedded_overrides

    df = make_credit(2000, seed=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(df[NUMERIC], df[TARGET])
    rows = json.loads(df[NUMERIC].to_json(orient="records"))
    results: dict[tuple[str, int], list[float]] = {}

    with tempfile.TemporaryDirectory() as tmp:
        rows_file = str(Path(tmp) / "rows.json")
        Path(rows_file).write_text(json.dumps(rows))
        settings = load_settings(
            env={},
            overrides={
                **embedded_overrides(Path(tmp)),
                "s3.bucket": "bench",
                "serving.log_queue_size": 100_000,
            },
        )
        stack = EmbeddedStack(settings)
        stack.start()
        try:
            ensure_topics(settings, settings.topics.all())
            S3Store(settings).ensure_bucket()
            registry = Registry(S3Store(settings))
            buf = io.BytesIO()
            joblib.dump(model, buf)
            registry.register("credit", buf.getvalue())
            registry.promote("credit", "v1")

            bare = measure_direct(
                lambda i: model.predict_proba(
                    pd.DataFrame.from_records([rows[i % len(rows)]], columns=NUMERIC)
                ),
                1,
                n,
            )
            threads = int(os.environ.get("BENCH_PREDICT_THREADS", "4"))
            with ModelServer(
                settings, "credit", registry=registry, port=0, watch_outcomes=False, predict_threads=threads
            ) as server:
                svc = server.service("credit")
                for c in (1, 64):
                    results[("baseline", c)] = measure_direct(
                        lambda i: svc.predict("credit", {"instances": [rows[i % len(rows)]]}), c, n
                    )
                legacy = legacy_server_class()(("127.0.0.1", 0), server.services, server.metrics)
                thread = threading.Thread(target=legacy.serve_forever, daemon=True)
                thread.start()
                urls = {
                    "old http.server": f"http://127.0.0.1:{legacy.server_address[1]}",
                    "new ASGI": server.url,
                }
                try:
                    # old and new take turns, ROUNDS times each, so a burst of load from elsewhere on the
                    # machine does not land on one of them only
                    for c in (1, 64):
                        for _ in range(ROUNDS):
                            for name, url in urls.items():
                                lat = measure_http(url, c, n // ROUNDS, rows_file)
                                results.setdefault((name, c), []).extend(lat)
                finally:
                    legacy.shutdown()
                    legacy.server_close()
                server.sink.wait_empty(60)
                dropped = server.metrics.log_dropped.labels("credit")._value.get()
            logged = len(read_recent(settings, settings.topics.inference_log))
        finally:
            stack.stop()

    print(f"{n} one-row predicts per level (keep-alive connections; every prediction logged to Kafka)")
    print(f"bare model.predict_proba, 1 thread: p50 {pct(bare, 0.5):.2f} ms  p99 {pct(bare, 0.99):.2f} ms")
    print(f"{'':18} {'c':>3} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}  p99 vs baseline")
    for (name, c), lat in results.items():
        base = pct(results[("baseline", c)], 0.99)
        mean = sum(lat) / len(lat)
        print(
            f"{name:18} {c:>3} {pct(lat, 0.5):8.2f} {pct(lat, 0.99):8.2f} {max(lat):8.2f} {mean:8.2f}  "
            f"{pct(lat, 0.99) / base:5.2f}x"
        )
    old99, new99 = pct(results[("old http.server", 64)], 0.99), pct(results[("new ASGI", 64)], 0.99)
    print(f"new/old p99 at concurrency 64: {new99 / old99:.2f}x ({new99:.2f} ms vs {old99:.2f} ms)")
    print(f"inference-log records on Kafka: {logged}; dropped: {dropped:.0f}")
    print(f"new p99 at concurrency 1: {pct(results[('new ASGI', 1)], 0.99):.2f} ms (target <= 20 ms)")
    print("PASS" if new99 < old99 else "FAIL")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3200)
