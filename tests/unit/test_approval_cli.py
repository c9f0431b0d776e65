"""``driftloop approve|reject`` resuming a run on an Argo Server: the real Hera client against a loopback
HTTP server that plays the Argo Server's resume endpoint (no cluster)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from driftloop.cli.approval import resume_run
from driftloop.config import load_settings
from driftloop.errors import ConnectionError_, WorkflowError
from tests.unit.test_notify import closed_port


@pytest.fixture
def argo() -> Iterator[tuple[str, list[Any], dict[str, int]]]:
    seen: list[Any] = []
    reply = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers.get("Authorization"), body))
            ok = reply["status"] == 200
            wf = {"metadata": {"name": body.get("name"), "namespace": "driftloop"}, "spec": {}}
            data = json.dumps(wf if ok else {"code": 7, "message": "permission denied"}).encode()
            self.send_response(reply["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, reply
    finally:
        server.shutdown()
        server.server_close()


def _settings(url: str) -> Any:
    return load_settings(
        env={}, overrides={"argo.server_url": url, "argo.namespace": "driftloop", "argo.token": "t0k"}
    )


def test_resume_calls_the_argo_server_for_the_approval_node(argo: Any) -> None:
    url, seen, _ = argo
    assert resume_run(_settings(url), "retrain-credit-abc") == url
    path, auth, body = seen[0]
    assert path == "/api/v1/workflows/driftloop/retrain-credit-abc/resume"
    assert auth == "Bearer t0k"
    assert body["nodeFieldSelector"] == "displayName=wait-approval" and body["name"] == "retrain-credit-abc"


def test_a_refusing_or_missing_argo_server_is_one_line_with_a_hint(argo: Any) -> None:
    url, _, reply = argo
    reply["status"] = 403
    with pytest.raises(WorkflowError, match="refused to resume") as err:
        resume_run(_settings(url), "retrain-credit-abc")
    assert "decision is recorded" in (err.value.hint or "")
    with pytest.raises(ConnectionError_, match="unreachable") as err2:
        resume_run(_settings(closed_port().rsplit("/", 1)[0]), "retrain-credit-abc")
    assert "argo resume retrain-credit-abc" in (err2.value.hint or "")
