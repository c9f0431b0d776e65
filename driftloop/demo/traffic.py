"""Labelled traffic for the demo's model server: predictions over HTTP keep-alive, then the ground-truth
labels on the feedback endpoint a moment later (as a real system learns outcomes after the fact)."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Traffic"]

log = logging.getLogger("driftloop.demo")


class Traffic:
    """A thread sending ``rate`` requests/s of ``batch`` rows each, from the current source table."""

    def __init__(
        self,
        url: str,
        model: str,
        source: pd.DataFrame,
        *,
        target: str = "default",
        rate: float = 60.0,
        batch: int = 5,
        token: str = "",
        feedback_url: str = "",
    ) -> None:
        """``token``: the server's ``serving.auth_token``, sent as a bearer token (feedback needs it).
        ``feedback_url``: the server's feedback port (``ModelServer.feedback_url``; the predict port
        refuses feedback)."""
        host, port = _host_port(url)
        self.feedback_host, self.feedback_port = _host_port(feedback_url or url)
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.host, self.port = host, port
        self.model, self.target, self.rate, self.batch = model, target, rate, batch
        self._source = source
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.errors = 0
        self.versions: Counter[str] = Counter()
        self._seq = 0
        self._row = 0

    def switch(self, source: pd.DataFrame) -> None:
        """From now on, send rows of ``source`` (e.g. after the drift)."""
        with self._lock:
            self._source, self._row = source, 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="demo-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _next(self) -> tuple[list[dict[str, Any]], list[Any]]:
        with self._lock:
            df = self._source
            rows = [(self._row + i) % len(df) for i in range(self.batch)]
            self._row = (self._row + self.batch) % len(df)
        chunk = df.iloc[rows]
        labels = chunk[self.target].tolist()
        features = json.loads(chunk.drop(columns=[self.target]).to_json(orient="records"))
        return features, labels

    def _post(self, conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> dict[str, Any]:
        conn.request("POST", path, json.dumps(body), self._headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status >= 400:
            raise RuntimeError(f"{path} answered {resp.status}: {data[:200]!r}")
        out: dict[str, Any] = json.loads(data)
        return out

    def _loop(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        labels_conn = http.client.HTTPConnection(self.feedback_host, self.feedback_port, timeout=10)
        pending: list[dict[str, Any]] = []
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            features, labels = self._next()
            self._seq += 1
            rid = f"demo-{self._seq}"
            try:
                reply = self._post(
                    conn, f"/v1/models/{self.model}/predict", {"instances": features, "request_id": rid}
                )
                self.sent += 1
                self.versions[str(reply.get("model_version"))] += len(features)
                ids = reply.get("ids") or [f"{rid}-{i}" for i in range(len(features))]
                pending.extend(
                    {"request_id": i, "label": y, "model": self.model}
                    for i, y in zip(ids, labels, strict=True)
                )
                if len(pending) >= 200:
                    self._post(labels_conn, "/v1/feedback", {"labels": pending})
                    pending = []
            except (OSError, RuntimeError, http.client.HTTPException, ValueError) as exc:
                self.errors += 1
                log.debug("demo traffic: %s", exc)
                conn.close()
                labels_conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                labels_conn = http.client.HTTPConnection(self.feedback_host, self.feedback_port, timeout=10)
                self._stop.wait(0.2)
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        conn.close()
        labels_conn.close()


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port.rstrip("/") or 80)
