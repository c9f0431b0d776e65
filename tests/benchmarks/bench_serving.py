"""p50/p99 latency of a 1-row predict through the model server while every prediction is logged to
Kafka (embedded Tansu + SeaweedFS), vs the bare ``model.predict_proba`` call on a 1-row DataFrame
measured in the same run. Target: p99 <= 20 ms.

Run: ``.venv/bin/python tests/benchmarks/bench_serving.py [requests]``
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
import joblib

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driftloop.config import load_settings
from driftloop.kafka import ensure_topics, read_recent
from driftloop.local.embedded import EmbeddedStack
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from driftloop.serving import ModelServer
from tests.conftest import embedded_overrides

NUMERIC = ["age", "income", "loan_amount", "credit_score", "debt_to_income"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int = 3000) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from monitors.datasets import TARGET, make_credit

    df = make_credit(2000, seed=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(df[NUMERIC], df[TARGET])
    rows = df[NUMERIC].to_dict(orient="records")

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}, overrides={**embedded_overrides(Path(tmp)), "s3.bucket": "bench"})
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

            # baseline: the bare model call the server makes, same rows
            base = []
            for i in range(n):
                t0 = time.perf_counter()
                model.predict_proba(pd.DataFrame.from_records([rows[i % len(rows)]], columns=NUMERIC))
                base.append((time.perf_counter() - t0) * 1000)

            with ModelServer(settings, "credit", registry=registry, port=0) as server:
                lat = []
                with httpx.Client(base_url=server.url) as http:
                    for i in range(200):  # warm-up
                        http.post("/v1/models/credit/predict", json={"instances": [rows[i]]})
                    for i in range(n):
                        body = {"instances": [rows[i % len(rows)]], "request_id": f"b{i}"}
                        t0 = time.perf_counter()
                        r = http.post("/v1/models/credit/predict", json=body)
                        lat.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200
                    server.sink.wait_empty(30)
                    metrics = http.get("/metrics").text
            logged = len(read_recent(settings, settings.topics.inference_log))
            dropped = [
                ln
                for ln in metrics.splitlines()
                if ln.startswith("driftloop_serving_log_records_dropped_total")
            ]
        finally:
            stack.stop()

    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    b50, b99 = pct(base, 0.5), pct(base, 0.99)
    print(f"requests: {n} one-row predicts over HTTP keep-alive, every prediction logged to Kafka")
    print(f"server  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {max(lat):.2f} ms   (target p99 <= 20 ms)")
    print(f"baseline bare predict_proba p50 {b50:.2f} ms  p99 {b99:.2f} ms")
    print(f"ratio server/baseline: p50 {p50 / b50:.2f}x  p99 {p99 / b99:.2f}x")
    drops = dropped[0] if dropped else "no drops"
    print(f"inference-log records on Kafka: {logged} (incl. 200 warm-up); {drops}")
    print("PASS" if p99 <= 20 else "FAIL")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
