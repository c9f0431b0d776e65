"""The model server against a hostile client (issue 26, items 2 and 3), on the real embedded Kafka + S3.

* Wrong-typed feature values (objects, arrays, integers beyond 64 bits, strings no version can score),
  missing features and bad shapes: a 4xx with a one-line message, never logged as a model error — 200 of
  them, sent on ids a client picked, leave the canary's error rate at 0.
* A client cannot pick the route: ids chosen by the old public sha256 rule land on the canary at the
  configured share only, and an id seen on the canary does not carry a different body there.
* A 28 MB V2 tensor of 3.5M nested items is refused before it is parsed: the server's RSS grows by less
  than 200 MB and ``/healthz`` keeps answering.
* 300 idle connections from one address: the probes still answer 200, and another client still predicts.
* A 70 KB body sent in the same write as its headers is served.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from driftloop.kafka import read_recent
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from driftloop.serving import ModelServer
from tests.faults.test_serving_faults import exchange, http_request
from tests.integration.test_serving import NUMERIC, dump, rows, train, wait_for
from workflows.deploy import get_target
from workflows.deploy.analysis import summarize

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/credit/predict"
INFER = "/v2/models/credit/infer"


@pytest.fixture
def canary(settings_for: Any, bucket: str, topic: Any) -> Iterator[tuple[Any, ModelServer, Any, str]]:
    """Champion v1 and canary v2 of ``credit`` (half the traffic) on a free port: (settings, server, df,
    canary version)."""
    settings = settings_for(
        **{
            "s3.bucket": bucket,
            "topics.inference_log": topic(),
            "topics.feedback": topic(),
            "serving.canary_fraction": 0.5,
            "serving.log_batch_size": 100,
        }
    )
    registry = Registry(S3Store(settings))
    champion, df = train(seed=0)
    registry.register("credit", dump(champion))
    registry.promote("credit", "v1")
    version = registry.register("credit", dump(train(seed=1)[0])).version
    get_target(settings, registry=registry).deploy_canary("credit", version)
    server = ModelServer(settings, "credit", registry=registry, port=0, poll_s=0.2, watch_outcomes=False)
    server.start()
    try:
        wait_for(lambda: server.service("credit").slots.canary is not None)
        yield settings, server, df, version
    finally:
        server.stop()


def wrong_typed(df: Any, i: int) -> tuple[str, Any]:
    """The ``i``-th kind of wrong request: (path, JSON body)."""
    row = rows(df, 1, i % 50)[0]
    kind = i % 10
    if kind < 6:  # a V1 feature value of the wrong type
        value = [{"x": 1}, [], 10**400, "forty", [1, 2], {"nested": [1]}][kind]
        return PREDICT, {"instances": [{**row, "age": value}]}
    if kind == 6:  # a missing feature
        return PREDICT, {"instances": [{k: v for k, v in row.items() if k != "age"}]}
    if kind == 7:  # a row of the wrong length
        return PREDICT, {"instances": [[1.0, 2.0]]}
    tensors = [{"name": n, "shape": [1], "datatype": "FP64", "data": [row[n]]} for n in NUMERIC]
    if kind == 8:  # 10**400 as INT64
        tensors[0] = {"name": "age", "shape": [1], "datatype": "INT64", "data": [10**400]}
    else:  # a shape that does not match the data
        tensors[1] = {**tensors[1], "shape": [2]}
    return INFER, {"inputs": tensors}


def old_bucket(request_id: str) -> float:
    """The route rule before issue 26: public, so a client could compute it."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64


def test_200_wrong_typed_requests_are_4xx_and_leave_the_canary_error_rate_at_0(canary: Any) -> None:
    settings, server, df, version = canary
    # ids a client would pick to reach the canary under the old public rule
    ids = [i for i in (uuid.uuid4().hex for _ in range(2000)) if old_bucket(i) < 0.5][:200]
    with httpx.Client(base_url=server.url) as http:
        for i, rid in enumerate(ids):
            path, body = wrong_typed(df, i)
            body["request_id" if path == PREDICT else "id"] = rid
            r = http.post(path, content=json.dumps(body))
            assert 400 <= r.status_code < 500, (i, r.status_code, r.text)
            error = r.json()["error"]
            assert "\n" not in error and "Traceback" not in error and "Error" not in error, error
        served = [http.post(PREDICT, json={"instances": rows(df, 1, j)}).json() for j in range(40)]
        metrics = http.get("/metrics").text
    assert {s["model_version"] for s in served} == {"v1", version}  # the canary takes traffic
    assert 'outcome="error"' not in metrics
    assert server.sink.wait_empty(15)
    logged = [json.loads(r.value) for r in read_recent(settings, settings.topics.inference_log)]
    stats = summarize(logged, {}, version)
    assert stats.requests > 0 and stats.errors == 0 and stats.error_rate == 0
    assert summarize(logged, {}, "v1").errors == 0


def test_a_client_cannot_pick_request_ids_that_land_on_the_canary(canary: Any) -> None:
    _settings, server, df, version = canary
    chosen = [i for i in (uuid.uuid4().hex for _ in range(1000)) if old_bucket(i) < 0.5][:100]
    with httpx.Client(base_url=server.url) as http:

        def route(rid: str, row: int) -> str:
            r = http.post(PREDICT, json={"instances": rows(df, 1, row), "request_id": rid})
            assert r.status_code == 200, r.text
            return str(r.json()["model_version"])

        first = {rid: route(rid, 0) for rid in chosen}
        on_canary = [rid for rid, v in first.items() if v == version]
        assert 20 <= len(on_canary) <= 80, len(on_canary)  # the configured share, not every chosen id
        assert all(route(rid, 0) == first[rid] for rid in chosen[:30])  # a retry meets the same version
        moved = [route(rid, 1) for rid in on_canary]  # the same ids with another body
        assert moved.count(version) < len(moved), moved


def rss_kb(pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def send_apart(server: ModelServer, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST ``body`` with its headers in one write and the body in later ones (so only the body's
    handling is tested); read the answer until the server closes."""
    request = http_request(path, body, {"Connection": "close"})
    split = request.index(b"\r\n\r\n") + 4
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(request[:split])
        time.sleep(0.1)
        if not select.select([sock], [], [], 0)[0]:  # not answered before the body (a 503 would be)
            sock.sendall(request[split:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, answer = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(answer)


def test_a_28mb_nested_tensor_is_refused_with_rss_bounded_and_health_answering(canary: Any) -> None:
    _settings, server, _df, _version = canary
    n = 3_500_000
    data = b"[" + b",".join([b"[41.25]"] * n) + b"]"
    body = b'{"inputs":[{"name":"age","shape":[%d,1],"datatype":"FP64","data":%s}]}' % (n, data)
    assert len(body) > 28_000_000
    del data
    peak, done = [rss_kb()], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_kb())
            time.sleep(0.005)

    probes: list[float] = []

    def probe() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not done.is_set():
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                probes.append(time.monotonic() - started)
                time.sleep(0.02)

    threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
    before = rss_kb()
    for thread in threads:
        thread.start()
    try:
        status, reply = send_apart(server, INFER, body)
    finally:
        time.sleep(0.2)
        done.set()
        for thread in threads:
            thread.join(15)
    grown_mb = (max(peak) - before) / 1024
    assert grown_mb < 200, f"RSS grew {grown_mb:.0f} MB"
    assert status == 413 and "JSON values" in reply["error"], (status, reply)
    assert probes and max(probes) < 1.0, max(probes)


def test_health_answers_under_300_idle_or_slow_connections_and_others_still_predict(canary: Any) -> None:
    _settings, server, df, _version = canary
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(300)]
    for sock in idle[::2]:  # half of them slow: a request begun and never finished
        sock.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
    try:
        wait_for(lambda: server.open_connections() >= 300, 5)
        with httpx.Client(base_url=server.url, timeout=5) as http:
            for path in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"] * 5:
                started = time.monotonic()
                r = http.get(path)
                assert r.status_code == 200 and time.monotonic() - started < 1.0, (path, r.status_code)
            crowded = http.post(PREDICT, json={"instances": rows(df, 1)})  # one client over its cap
            assert crowded.status_code == 429 and "connections from" in crowded.json()["error"]
        other = httpx.HTTPTransport(local_address="127.0.0.2")  # another client address
        with httpx.Client(base_url=server.url, transport=other, timeout=5) as http:
            r = http.post(PREDICT, json={"instances": rows(df, 1)})
            assert r.status_code == 200, r.text
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: server.open_connections() == 0, 10)
    with httpx.Client(base_url=server.url) as http:
        assert http.post(PREDICT, json={"instances": rows(df, 1)}).status_code == 200


def test_a_70kb_body_in_the_same_write_as_its_headers_is_served(canary: Any) -> None:
    _settings, server, df, _version = canary
    body = json.dumps({"instances": rows(df, 700)}).encode()
    assert 65_536 < len(body) < 200_000, len(body)
    status, reply, _elapsed = exchange(server, http_request(PREDICT, body, {"Connection": "close"}))
    assert status == 200, reply
    assert len(reply["predictions"]) == 700


def test_a_pinned_canary_pod_blames_a_kind_of_value_it_never_scored_on_the_client(canary: Any) -> None:
    """On Kubernetes the canary runs in pods of its own (pinned, no champion to compare with) and a client
    can keep its connection to one: strings where the model has only scored numbers are the client's 400,
    not the canary's error; a failure on values of a kind it has scored stays the model's."""
    settings, server, df, version = canary
    pod = ModelServer(
        settings, "credit", registry=server.registry, version=version, port=0, watch_outcomes=False
    )
    pod.start()
    try:
        with httpx.Client(base_url=pod.url) as http:
            assert http.post(PREDICT, json={"instances": rows(df, 2)}).status_code == 200
            for i in range(50):
                row = {**rows(df, 1, i)[0], "age": f"forty-{i}"}
                r = http.post(PREDICT, json={"instances": [row], "request_id": f"bad-{i}"})
                assert r.status_code == 400, r.text
                assert "instances[0].age is a string" in r.json()["error"], r.text
            metrics = http.get("/metrics").text
        assert 'outcome="error"' not in metrics
        assert pod.sink.wait_empty(15)
        logged = [json.loads(r.value) for r in read_recent(settings, settings.topics.inference_log)]
        assert not [rec for rec in logged if str(rec.get("request_id", "")).startswith("bad-")]
        assert summarize(logged, {}, version).errors == 0
    finally:
        pod.stop()


def test_bodies_held_at_once_are_bounded_and_small_requests_still_pass(canary: Any) -> None:
    """Many large bodies at once (slow uploads) cannot take the server's memory: past
    ``serving.max_body_bytes_in_flight`` a large request gets 503 before its body is read, a small one is
    served, and the budget comes back when the slow upload ends."""
    settings, server, df, _version = canary
    budget = {"max_body_bytes_in_flight": 1024 * 1024}
    tight = ModelServer(
        settings.model_copy(update={"serving": settings.serving.model_copy(update=budget)}),
        "credit",
        registry=server.registry,
        port=0,
        watch_outcomes=False,
    )
    tight.start()
    big = json.dumps({"instances": rows(df, 1), "pad": "x" * 600_000}).encode()
    try:
        slow = socket.create_connection(("127.0.0.1", tight.port), timeout=5)
        slow.sendall(http_request(PREDICT, b"", {"Content-Length": "900000"}) + b"[" * 1000)
        time.sleep(0.3)  # the app holds 900 kB of budget for the slow upload
        status, reply = send_apart(tight, PREDICT, big)
        assert status == 503 and "too many request bodies" in reply["error"], (status, reply)
        with httpx.Client(base_url=tight.url) as http:
            assert http.post(PREDICT, json={"instances": rows(df, 1)}).status_code == 200
        slow.close()
        wait_for(lambda: send_apart(tight, PREDICT, big)[0] == 200, 10)
    finally:
        tight.stop()
