"""The HTTP layer: stdlib ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive).

The stdlib server keeps the dependency list short and is fast enough: a 1-row predict spends ~1 ms in
the model and well under that here (see tests/benchmarks/bench_serving.py). Nagle's algorithm is off —
with keep-alive, a small response split over two writes would otherwise wait for the client's delayed
ACK (~40 ms on Linux).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from driftloop.serving.metrics import CONTENT_TYPE

__all__ = ["ServingHTTPServer"]

log = logging.getLogger("driftloop.serving")

MAX_BODY = 32 * 1024 * 1024
_PREDICT_SUFFIX = "/predict"
_MODELS = "/v1/models/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ServingHTTPServer
    error_content_type = "application/json"
    error_message_format = '{"error": "%(message)s", "code": %(code)d}'

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":"), default=str).encode())

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError(f"request body over {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def path_only(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _unknown(self, model: str) -> None:
        known = sorted(self.server.services())
        self._json(404, {"error": f"model {model!r} is not served here", "hint": f"served: {known}"})

    def do_GET(self) -> None:
        services = self.server.services()
        path = self.path_only()
        if path == "/healthz":
            self._json(200, {"status": "ok"})
        elif path == "/readyz":
            ready = {m: s.slots.ready for m, s in services.items()}
            errors = {m: dict(s.slots.errors) for m, s in services.items() if s.slots.errors}
            ok = bool(ready) and all(ready.values())
            self._json(200 if ok else 503, {"ready": ok, "models": ready, "errors": errors})
        elif path == "/metrics":
            self._send(200, self.server.metrics.render(), CONTENT_TYPE)
        elif path == "/v1/models":
            self._json(200, {"models": sorted(services)})
        elif path.startswith(_MODELS) and "/" not in path[len(_MODELS) :]:
            model = path[len(_MODELS) :]
            svc = services.get(model)
            if svc is None:
                self._unknown(model)
            else:
                self._json(*svc.info(model))
        else:
            self._json(404, {"error": f"no such endpoint: GET {path}"})

    def do_POST(self) -> None:
        services = self.server.services()
        path = self.path_only()
        try:
            body = self._body()
        except (ValueError, UnicodeDecodeError) as exc:
            self._json(400, {"error": f"the body is not valid JSON: {exc}", "hint": "send a JSON object"})
            return
        if path.startswith(_MODELS) and path.endswith(_PREDICT_SUFFIX):
            model = path[len(_MODELS) : -len(_PREDICT_SUFFIX)]
            svc = services.get(model)
            if svc is None:
                self._unknown(model)
            else:
                self._json(*svc.predict(model, body))
        elif path == "/v1/feedback":
            named = body.get("model") if isinstance(body, dict) else None
            svc = services.get(str(named)) if named else next(iter(services.values()), None)
            if svc is None:
                self._unknown(str(named))
            else:
                self._json(*svc.feedback(body))
        else:
            self._json(404, {"error": f"no such endpoint: POST {path}"})


class ServingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], services: Callable[[], dict[str, Any]], metrics: Any
    ) -> None:
        self.services = services  # model -> PredictionService, read per request (models come and go)
        self.metrics = metrics
        super().__init__(address, _Handler)
