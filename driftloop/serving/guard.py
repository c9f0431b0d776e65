"""What every connection to the model server is held to, before the app sees a request: uvicorn's httptools
protocol with deadlines, a header limit, a per-client connection cap and a concurrency limit that leaves the
health probes alone.

* **Deadline.** A whole request — headers and body — must arrive within ``read_timeout_s`` of the moment
  the server waits for it (an idle keep-alive connection too). uvicorn times out only idle connections; a
  client that sends its headers or body a byte at a time would otherwise hold its connection forever.
* **Headers** over :data:`MAX_HEAD` bytes: a 400 and the connection closed, counted *before* the parser
  buffers them. Only the head is counted: a body that arrives in the same write as its headers (a 70 KB
  predict in one ``send``) is the app's to judge.
* **Per-client cap.** A client address holds at most ``per_client`` connections that may predict; its
  further connections get ``429`` for anything but a health probe, and do not count against the server's
  limit. So one client's idle or slow connections cannot use up ``serving.max_concurrency`` for others.
* **Concurrency.** Over ``max_concurrency`` (connections within their client's cap, or requests in
  progress) a request gets 503 — except the probes (:data:`PROBES`), which are always answered: a server
  that is busy is not dead, and a kubelet that restarts it for being busy makes things worse.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

__all__ = ["MAX_HEAD", "PROBES", "guarded_protocol"]

log = logging.getLogger("driftloop.serving")

#: The most bytes of request line + headers read before the headers must be complete.
MAX_HEAD = 64 * 1024
#: Health and readiness probes: answered whatever the load or the client's connection count.
PROBES = frozenset({b"/healthz", b"/readyz", b"/v2/health/live", b"/v2/health/ready"})
_END = b"\r\n\r\n"


def _refusal(status: int, message: str, hint: str) -> Any:
    """An ASGI app that answers every request with ``status`` and a one-line JSON error, and closes."""
    body = json.dumps({"error": message, "hint": hint}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class _Gate:
    """Counts shared by every connection of one server (touched on its event loop only: no lock)."""

    def __init__(self) -> None:
        self.per_client: Counter[str] = Counter()
        self.admitted = 0


def guarded_protocol(read_timeout_s: float, max_concurrency: int, per_client: int) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the module doc's guards (a new class, and counts, per server)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    gate = _Gate()
    busy = _refusal(
        503,
        f"the server is at its limit of {max_concurrency} connections and requests",
        "retry shortly (serving.max_concurrency)",
    )

    class _GuardedHttp(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _head = 0
        _tail = b""
        _in_head = True
        _ip = ""
        _over = False
        _counted = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._ip = self.client[0] if self.client else ""
            gate.per_client[self._ip] += 1
            self._over = gate.per_client[self._ip] > per_client
            if not self._over:
                gate.admitted += 1
            self._counted = True
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted:
                self._counted = False
                gate.per_client[self._ip] -= 1
                if gate.per_client[self._ip] <= 0:
                    del gate.per_client[self._ip]
                if not self._over:
                    gate.admitted -= 1
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                # count the head only: headers and body may come in one write
                end = (self._tail + data).find(_END)
                self._head += len(data) if end < 0 else max(0, end + len(_END) - len(self._tail))
                self._tail = data[-(len(_END) - 1) :]
                if self._head > MAX_HEAD:
                    log.debug("%s: headers over %d bytes; closing", self.client, MAX_HEAD)
                    self.send_400_response(f"request headers over {MAX_HEAD} bytes")
                    return
            super().data_received(data)

        def eof_received(self) -> None:
            cycle = self.cycle
            if (cycle is not None and cycle.more_body and not cycle.response_complete) or (
                self._in_head and self._head
            ):  # the client shut its side mid-request: say so rather than wait for the deadline
                self.send_400_response("the request ended before its headers or body did")

        def on_headers_complete(self) -> None:
            self._in_head = False
            path = self.url.split(b"?", 1)[0]
            app = self.app
            if self.parser.get_method() == b"GET" and path in PROBES:
                pass
            elif self._over:
                app = _refusal(
                    429,
                    f"more than {per_client} connections from {self._ip}",
                    "reuse connections, or raise serving.max_connections_per_client",
                )
            elif gate.admitted >= max_concurrency or len(self.tasks) >= max_concurrency:
                app = busy
            saved, self.app = self.app, app
            try:
                super().on_headers_complete()
            finally:
                self.app = saved

        def on_message_complete(self) -> None:
            self._disarm()
            self._in_head, self._head, self._tail = True, 0, b""
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request (an idle keep-alive connection too)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(read_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                return  # a whole request is being answered: not the client's delay
            if not self.transport.is_closing():
                log.debug("%s sent no whole request in %.1fs; closing", self.client, read_timeout_s)
                self.transport.close()

    return _GuardedHttp
