"""Labelled traffic for the cluster's model server, through its Service (what `make e2e` sends).

The demo's generator (driftloop.demo.traffic) keeps one HTTP connection alive; through a Kubernetes
Service that pins every request to the pod kube-proxy chose for the connection, so a canary Deployment
beside the stable one never saw a request. Here each request opens its own connection, so kube-proxy
spreads them over the ready pods of both tracks as real clients would, and the labels follow on the
feedback port a moment later.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from typing import Any

import pandas as pd

__all__ = ["ServiceTraffic"]


class ServiceTraffic:
    """A thread sending ``rate`` requests/s of ``batch`` rows from ``source`` to ``host``'s predict port,
    and the rows' ``target`` values as labels to its feedback port every ``label_every`` requests."""

    def __init__(
        self,
        host: str,
        model: str,
        source: pd.DataFrame,
        *,
        target: str,
        token: str,
        predict_port: int = 80,
        feedback_port: int = 8081,
        rate: float = 8.0,
        batch: int = 10,
        label_every: int = 10,
    ) -> None:
        self.host, self.model, self.target = host, model, target
        self.predict_port, self.feedback_port = predict_port, feedback_port
        self.rate, self.batch, self.label_every = rate, batch, label_every
        self._source = source
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent = self.labelled = self.errors = 0
        self.last_error = ""
        self.versions: Counter[str] = Counter()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="e2e-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def switch(self, source: pd.DataFrame) -> None:
        """From now on, send rows of ``source``."""
        with self._lock:
            self._source = source

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sent": self.sent,
                "labelled": self.labelled,
                "errors": self.errors,
                "versions": dict(self.versions),
                "last_error": self.last_error,
            }

    def _post(self, port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
        conn = http.client.HTTPConnection(self.host, port, timeout=10)
        try:
            conn.request("POST", path, json.dumps(body), {**self._headers, "Connection": "close"})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status >= 400:
            raise RuntimeError(f"{path} answered {resp.status}: {data[:200]!r}")
        out: dict[str, Any] = json.loads(data)
        return out

    def _loop(self) -> None:
        pending: list[dict[str, Any]] = []
        row = seq = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                df = self._source
            chunk = df.iloc[[(row + i) % len(df) for i in range(self.batch)]]
            row = (row + self.batch) % len(df)
            seq += 1
            rid = f"e2e-{int(time.time())}-{seq}"
            features = json.loads(chunk.drop(columns=[self.target]).to_json(orient="records"))
            try:
                reply = self._post(
                    self.predict_port,
                    f"/v1/models/{self.model}/predict",
                    {"instances": features, "request_id": rid},
                )
                ids = reply.get("ids") or [f"{rid}-{i}" for i in range(len(features))]
                with self._lock:
                    self.sent += 1
                    self.versions[str(reply.get("model_version"))] += 1
                pending += [
                    {"request_id": i, "label": y, "model": self.model}
                    for i, y in zip(ids, chunk[self.target].tolist(), strict=True)
                ]
                if seq % self.label_every == 0:
                    self._post(self.feedback_port, "/v1/feedback", {"labels": pending})
                    with self._lock:
                        self.labelled += len(pending)
                    pending = []
            except (OSError, RuntimeError, http.client.HTTPException, ValueError) as exc:
                with self._lock:
                    self.errors += 1
                    self.last_error = str(exc)[:200]
            next_at += 1.0 / self.rate
            self._stop.wait(max(0.0, next_at - time.monotonic()))
