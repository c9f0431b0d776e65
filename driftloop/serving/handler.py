"""The HTTP layer: stdlib ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive).

The stdlib server keeps the dependency list short and is fast enough: a 1-row predict spends ~1 ms in
the model and well under that here (see tests/benchmarks/bench_serving.py). Nagle's algorithm is off —
with keep-alive, a small response split over two writes would otherwise wait for the client's delayed
ACK (~40 ms on Linux).

Bad clients cost a thread for a bounded time only: a body's ``Content-Length`` is checked before a byte
of it is read (400 when it is not one non-negative integer, 413 over :data:`MAX_BODY`, 411 for a chunked
body — and the connection is closed), and a connection that sends nothing for ``read_timeout_s`` (an idle
keep-alive connection too) is dropped. A client that hangs up before it reads its answer is one debug
line, not a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from driftloop.errors import DataError
from driftloop.serving.metrics import CONTENT_TYPE

__all__ = ["MAX_BODY", "READ_TIMEOUT_S", "BodyError", "ServingHTTPServer"]

log = logging.getLogger("driftloop.serving")

#: The largest request body read, in bytes: a full batch (service.MAX_INSTANCES rows) with room to spare.
MAX_BODY = 32 * 1024 * 1024
#: Seconds a connection may send nothing (mid-request, or idle between keep-alive requests).
READ_TIMEOUT_S = 10.0
_PREDICT_SUFFIX = "/predict"
_MODELS = "/v1/models/"
_LENGTH = re.compile(r"[0-9]+", re.ASCII)


class BodyError(DataError):
    """A request body the server will not read or cannot parse; ``status`` is the HTTP answer and
    ``close`` says the connection must be closed (the body's end is unknown)."""

    def __init__(self, status: int, message: str, hint: str, *, close: bool = True) -> None:
        super().__init__(message, hint)
        self.status = status
        self.close = close


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = READ_TIMEOUT_S  # per socket operation; setup() applies the server's read_timeout_s
    server: ServingHTTPServer
    error_content_type = "application/json"
    error_message_format = '{"error": "%(message)s", "code": %(code)d}'

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout_s)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()  # a timeout is handled there: logged (debug) and the socket closed
        except ConnectionError as exc:  # BrokenPipe, ConnectionReset: the client left; nobody to answer
            self.close_connection = True
            log.debug("%s closed the connection: %s", self.address_string(), exc)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", close: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, close: bool = False) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":"), default=str).encode(), close=close)

    def _length(self) -> int:
        """The body's length from the headers, checked before anything is read."""
        if self.headers.get("Transfer-Encoding"):
            raise BodyError(411, "chunked request bodies are not supported", "send a Content-Length")
        values = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        if not values:
            return 0
        if len(set(values)) > 1 or not _LENGTH.fullmatch(values[0]):
            shown = ", ".join(values)
            raise BodyError(
                400,
                f"Content-Length must be one non-negative integer, not {shown[:40]!r}",
                "send the body's size in bytes",
            )
        digits = values[0].lstrip("0") or "0"  # int() refuses over 4300 digits: compare lengths first
        if len(digits) > len(str(MAX_BODY)) or int(digits) > MAX_BODY:
            raise BodyError(
                413,
                f"the body (Content-Length {digits[:20]}{'…' if len(digits) > 20 else ''}) is over the "
                f"limit of {MAX_BODY} bytes",
                "split the batch",
            )
        return int(digits)

    def _body(self) -> Any:
        length = self._length()
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            raise BodyError(400, f"the body ended after {len(raw)} of {length} bytes", "send the whole body")
        try:
            return json.loads(raw) if raw else None
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise BodyError(
                400, f"the body is not valid JSON: {reason}", "send a JSON object", close=False
            ) from None

    def handle_expect_100(self) -> bool:
        """Refuse a body the server will not read before the client sends it."""
        try:
            self._length()
        except BodyError as exc:
            self._json(exc.status, {"error": exc.message, "hint": exc.hint}, close=True)
            return False
        return super().handle_expect_100()

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
        except BodyError as exc:
            self._json(exc.status, {"error": exc.message, "hint": exc.hint}, close=exc.close)
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
        self,
        address: tuple[str, int],
        services: Callable[[], dict[str, Any]],
        metrics: Any,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.services = services  # model -> PredictionService, read per request (models come and go)
        self.metrics = metrics
        self.read_timeout_s = read_timeout_s  # read per connection: a test may lower it on a running server
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception that escaped a handler: into the log (the stdlib prints it to stderr)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("%s: connection dropped: %s", client_address[0], exc)
        else:
            log.error("request from %s failed", client_address[0], exc_info=True)
