"""The model server against bad input, on the real embedded Kafka + S3.

* NaN / ±Infinity / 1e999 feature values: a 400 naming the field — not a 500, not an ``"error"`` record in
  the inference log (canary analysis would count it against the version), not ``outcome="error"``.
  NaN / Infinity feedback labels: a 400, and nothing published.
* A negative, non-numeric or conflicting ``Content-Length``, or one over ``MAX_BODY``: answered at once
  (400 / 413) and the connection closed — never a read until the client gives up. A chunked body is
  counted as it arrives and refused (413) once over the limit.
* A client that sends headers (or part of a body) and stalls is dropped after the read timeout and does
  not hold up other clients; a client that shuts its side mid-body gets a 400 at once.
* Clients that close before reading the answer: no BrokenPipe / ConnectionReset traceback; the server
  keeps answering.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from driftloop.kafka import read_recent
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from driftloop.serving import ModelServer
from driftloop.serving.app import MAX_BODY
from tests.integration.test_serving import dump, rows, train, wait_for
from workflows.deploy.analysis import summarize

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/credit/predict"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
Served = tuple[Any, ModelServer, Any]  # settings, server, the training frame


@pytest.fixture
def serve(settings_for: Any, bucket: str, topic: Any) -> Iterator[Callable[..., Served]]:
    """Factory: champion v1 of ``credit`` served on a free port (``serve(read_timeout_s=1)``), logging to
    fresh topics; returns ``(settings, server, df)``."""
    servers: list[ModelServer] = []
    settings = settings_for(
        **{"s3.bucket": bucket, "topics.inference_log": topic(), "topics.feedback": topic()}
    )
    registry = Registry(S3Store(settings))
    model, df = train()
    registry.register("credit", dump(model))
    registry.promote("credit", "v1")

    def make(**kwargs: Any) -> Served:
        server = ModelServer(settings, "credit", registry=registry, port=0, watch_outcomes=False, **kwargs)
        server.start()
        servers.append(server)
        return settings, server, df

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


def http_request(path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A raw POST: ``Content-Length`` is whatever ``headers`` say (the body's length if they say nothing)."""
    fields = {"Host": "test", "Content-Type": "application/json", **(headers or {})}
    if not any(k.lower() == "content-length" for k in fields):
        fields["Content-Length"] = str(len(body))
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body


def exchange(server: ModelServer, data: bytes, timeout_s: float = 5.0) -> tuple[int, dict[str, Any], float]:
    """Send ``data`` and keep the socket open; read until the *server* closes. Returns the status, the
    JSON body and how long the server took to answer and close (``socket.timeout`` if it did neither)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s) as sock:
        started = time.monotonic()
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        elapsed = time.monotonic() - started
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"application/json" not in head.lower():  # refused by the HTTP parser, before the app: plain text
        return status, {"error": body.decode(), "parser": True}, elapsed
    return status, json.loads(body), elapsed


def predict_text(df: Any, value: str, at: int = 1) -> bytes:
    """A 2-instance predict body whose ``income`` in instance ``at`` is the JSON text ``value``."""
    instances = rows(df, 2)
    instances[at]["income"] = "__VALUE__"
    return json.dumps({"instances": instances}).replace('"__VALUE__"', value).encode()


def test_non_finite_features_are_a_400_and_never_a_model_error(serve: Any) -> None:
    settings, server, df = serve()
    with httpx.Client(base_url=server.url) as http:
        for value in NON_FINITE:
            r = http.post(PREDICT, content=predict_text(df, value))
            assert r.status_code == 400, (value, r.text)
            error = r.json()["error"]
            assert "instances[1].income" in error and "\n" not in error, error
            assert r.json()["hint"]
        ok = http.post(PREDICT, json={"instances": rows(df, 1), "request_id": "fine"})
        assert ok.status_code == 200, ok.text
        metrics = http.get("/metrics").text
    assert 'outcome="error"' not in metrics
    refused = 'driftloop_serving_requests_total{model="credit",outcome="bad_request",route="",version=""}'
    assert f"{refused} {len(NON_FINITE)}.0" in metrics
    assert server.sink.wait_empty(15)
    logged = [json.loads(r.value) for r in read_recent(settings, settings.topics.inference_log)]
    assert [rec["request_id"] for rec in logged] == ["fine"]  # the refused requests are not logged at all
    assert summarize(logged, {}, "v1").errors == 0  # what canary analysis would count


def test_non_finite_feedback_labels_are_a_400_and_nothing_is_published(serve: Any) -> None:
    settings, server, _df = serve()
    with httpx.Client(base_url=server.feedback_url) as feed:
        single = feed.post("/v1/feedback", content=b'{"request_id": "a", "label": NaN}')
        assert single.status_code == 400 and "label" in single.json()["error"], single.text
        batch = b'{"labels": [{"request_id": "b", "label": 1}, {"request_id": "c", "label": -Infinity}]}'
        r = feed.post("/v1/feedback", content=batch)
        assert r.status_code == 400 and "labels[1].label" in r.json()["error"], r.text
        overflow = feed.post("/v1/feedback", content=b'{"request_id": "d", "label": 1e999}')
        assert overflow.status_code == 400, overflow.text
        assert feed.post("/v1/feedback", json={"request_id": "e", "label": 0}).status_code == 202
    got = [json.loads(r.value) for r in read_recent(settings, settings.topics.feedback)]
    assert [(g["request_id"], g["label"]) for g in got] == [("e", 0)]  # "b" went down with its batch


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        ({"Content-Length": "-1"}, 400, "Content-Length"),
        ({"Content-Length": "abc"}, 400, "Content-Length"),
        ({"Content-Length": "1_0"}, 400, "Content-Length"),
        # over 2**64: httptools' parser refuses these itself (400, plain text) before the app runs
        ({"Content-Length": "99999999999999999999999999"}, 400, "limit"),
        ({"Content-Length": "9" * 5000}, 400, "limit"),
        ({"Content-Length": str(MAX_BODY + 1)}, 413, "limit"),
        ({"Content-Length": str(MAX_BODY + 1), "Expect": "100-continue"}, 413, "limit"),
    ],
)
def test_bad_content_length_is_answered_at_once_and_the_connection_closed(
    serve: Any, headers: dict[str, str], status: int, says: str
) -> None:
    _settings, server, _df = serve()  # the default read timeout (10 s): a server that reads on would stall
    got, body, elapsed = exchange(server, http_request(PREDICT, headers=headers), timeout_s=5)
    assert got == status and "\n" not in body["error"], body
    if not body.get("parser"):  # the app's answer names the problem (the parser's says "Invalid HTTP")
        assert says in body["error"], body
    assert elapsed < 3, elapsed
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/healthz").status_code == 200


def test_conflicting_content_lengths_are_a_400(serve: Any) -> None:
    _settings, server, _df = serve()
    data = b"POST /v1/feedback HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
    with socket.create_connection(("127.0.0.1", server.feedback_port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply  # the HTTP parser refuses it before the app runs


def test_a_chunked_body_over_the_limit_is_a_413(serve: Any) -> None:
    _settings, server, df = serve(max_body=4096)
    with httpx.Client(base_url=server.url) as http:

        def chunks(n: int) -> Any:
            yield b'{"instances": ['
            for _ in range(n):
                yield json.dumps(rows(df, 1)[0]).encode() + b","
            yield b"{}]}"

        r = http.post(PREDICT, content=chunks(100))  # a generator: sent chunked, no Content-Length
        assert r.status_code == 413 and "limit" in r.json()["error"], r.text
        small = http.post(PREDICT, content=(c for c in [json.dumps({"instances": rows(df, 1)}).encode()]))
        assert small.status_code == 200, small.text


def test_truncated_body_is_a_400(serve: Any) -> None:
    _settings, server, _df = serve()
    with socket.create_connection(("127.0.0.1", server.feedback_port), timeout=5) as sock:
        sock.sendall(http_request("/v1/feedback", b'{"label"', {"Content-Length": "100"}))
        sock.shutdown(socket.SHUT_WR)  # the body ends after 8 of 100 bytes
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400") and b"ended" in reply, reply
    assert time.monotonic() - started < 3  # at once, not after the read timeout


def test_stalled_clients_are_dropped_after_the_read_timeout_and_block_no_one(serve: Any) -> None:
    timeout_s = 2.0
    _settings, server, df = serve(read_timeout_s=timeout_s)
    stalled = []
    started = time.monotonic()
    for data in (
        b"",  # connects and says nothing
        b"POST /v1/models/credit/predict HTTP/1.1\r\nHost: t\r\n",  # half the headers
        http_request(PREDICT, b'{"inst', {"Content-Length": "500"}),  # headers, then part of the body
    ):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s + 5)
        sock.sendall(data)
        stalled.append(sock)
    try:
        with httpx.Client(base_url=server.url) as http:  # others are served meanwhile
            for i in range(5):
                r = http.post(PREDICT, json={"instances": rows(df, 1, i)})
                assert r.status_code == 200, r.text
        assert time.monotonic() - started < timeout_s  # they did not wait for the stalled ones
        for sock in stalled:
            assert sock.recv(65536) == b""  # dropped by the server (socket.timeout if not)
        assert time.monotonic() - started < timeout_s + 4
    finally:
        for sock in stalled:
            sock.close()
    wait_for(lambda: server.open_connections() == 0, 5)


def test_clients_that_hang_up_leave_no_traceback(
    serve: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="driftloop.serving")
    _settings, server, df = serve()
    data = http_request(PREDICT, json.dumps({"instances": rows(df, 50)}).encode())
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(data)
        if i % 2:  # half close with a reset (SO_LINGER 0), half with a plain FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    # connections are accepted in order: once this one is answered, the 20 all have their threads
    health = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    assert exchange(server, health)[0] == 200
    wait_for(lambda: server.open_connections() == 0, 10)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "BrokenPipe" not in err and "ConnectionReset" not in err, err
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    # the server says nothing about hang-ups (kafka-python's own "task ran for 0.4 s" notes on a loaded
    # machine are about its producer thread, not about these clients)
    ours = [r for r in caplog.records if r.levelno >= logging.WARNING and not r.name.startswith("kafka")]
    assert not ours, caplog.text
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/healthz").status_code == 200
        assert http.post(PREDICT, json={"instances": rows(df, 1)}).status_code == 200


def test_headers_over_the_limit_are_refused_and_the_connection_closed(serve: Any) -> None:
    from driftloop.serving.server import MAX_HEAD

    _settings, server, _df = serve()
    data = http_request(PREDICT, b"{}", {"X-Padding": "a" * (MAX_HEAD + 10)})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400") and b"headers over" in reply, reply[:200]


def test_connections_over_the_concurrency_limit_get_a_503(serve: Any) -> None:
    settings, server, df = serve()
    server.stop()
    limited = ModelServer(
        settings.model_copy(update={"serving": settings.serving.model_copy(update={"max_concurrency": 3})}),
        "credit",
        registry=server.registry,
        port=0,
        watch_outcomes=False,
    )
    limited.start()
    try:
        idle = [socket.create_connection(("127.0.0.1", limited.port), timeout=5) for _ in range(2)]
        wait_for(lambda: limited.open_connections() == 2, 5)
        with httpx.Client(base_url=limited.url) as http:
            assert http.post(PREDICT, json={"instances": rows(df, 1)}).status_code == 503
        for sock in idle:
            sock.close()
        wait_for(lambda: limited.open_connections() == 0, 5)
        with httpx.Client(base_url=limited.url) as http:
            assert http.post(PREDICT, json={"instances": rows(df, 1)}).status_code == 200
    finally:
        limited.stop()
