"""Webhook notifications against real HTTP servers on loopback: the bodies, the event filter, retries with
backoff, and a dead receiver (HTTP 500, a closed port) that never raises."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from driftloop.modelspec import WebhookSpec
from driftloop.notify import notify


class Receiver:
    """A webhook receiver on loopback; answers ``status`` (a list: one per request, the last repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses = statuses
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses[min(len(receiver.bodies), len(receiver.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ok() -> Iterator[Receiver]:
    with Receiver([200]) as r:
        yield r


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_json_and_slack_bodies(ok: Receiver) -> None:
    hooks = [WebhookSpec(url=ok.url, format="json"), WebhookSpec(url=ok.url, format="slack")]
    out = notify(hooks, "outcome", "credit", "retrain credit succeeded", {"version": "v2"})
    assert [r["ok"] for r in out] == [True, True]
    generic, slack = ok.bodies
    assert generic["event"] == "outcome" and generic["model"] == "credit"
    assert generic["data"] == {"version": "v2"} and generic["text"] == "retrain credit succeeded"
    assert slack == {"text": "retrain credit succeeded"}


def test_only_the_events_a_webhook_wants(ok: Receiver) -> None:
    hooks = [WebhookSpec(url=ok.url, events=["approval"])]
    assert notify(hooks, "verdict", "credit", "x") == []
    assert notify(hooks, "approval", "credit", "y")[0]["ok"]
    assert [b["event"] for b in ok.bodies] == ["approval"]


def test_a_failing_receiver_is_retried_with_backoff_then_succeeds() -> None:
    waits: list[float] = []
    with Receiver([503, 500, 200]) as r:
        out = notify([WebhookSpec(url=r.url)], "outcome", "credit", "x", sleep=waits.append)
    assert out[0]["ok"] and len(r.bodies) == 3
    assert waits == [0.5, 1.0]


@pytest.mark.parametrize("dead", ["500", "closed"])
def test_a_dead_webhook_never_raises(dead: str, caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []
    if dead == "500":
        with Receiver([500]) as r:
            out = notify([WebhookSpec(url=r.url)], "outcome", "credit", "x", sleep=waits.append)
        assert len(r.bodies) == 3  # every attempt reached it
    else:
        out = notify([WebhookSpec(url=closed_port())], "outcome", "credit", "x", sleep=waits.append)
    assert out[0]["ok"] is False and waits == [0.5, 1.0]
    assert "not delivered" in caplog.text


def test_a_refusing_receiver_is_not_retried() -> None:
    with Receiver([400]) as r:
        out = notify([WebhookSpec(url=r.url)], "outcome", "credit", "x", sleep=lambda s: None)
    shown = f"http://{r.url.split('/')[2]}/…"  # scheme and host only: the path of a webhook URL is its key
    assert out[0] == {"url": shown, "ok": False, "detail": "HTTP 400"} and len(r.bodies) == 1


def test_url_from_the_environment(ok: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", ok.url)
    out = notify([WebhookSpec(url_env="SLACK_HOOK", format="slack")], "verdict", "credit", "hi")
    assert out == [{"url": "$SLACK_HOOK", "ok": True, "detail": "HTTP 200"}]
    monkeypatch.delenv("SLACK_HOOK")
    assert notify([WebhookSpec(url_env="SLACK_HOOK")], "verdict", "credit", "hi")[0]["ok"] is False


def test_the_time_budget_bounds_a_dead_webhook() -> None:
    out = notify([WebhookSpec(url=closed_port())], "outcome", "credit", "x", budget_s=0.0)
    assert out[0]["ok"] is False


def test_a_webhook_url_is_a_secret_in_config_show_but_reaches_the_steps(tmp_path):
    from driftloop.config import export_settings, load_settings, masked_dict

    hook = {"url": "https://hooks.slack.com/services/T0/B0/secret-key", "format": "slack"}
    spec = {"task": "classification", "target": "y", "trainer": "m:train"}
    spec["notifications"] = {"webhooks": [hook]}
    settings = load_settings(env={}, overrides={"models": {"m": spec}})
    assert masked_dict(settings)["models"]["m"]["notifications"]["webhooks"][0]["url"] == "****"
    exported = export_settings(settings, tmp_path / "config.yaml").read_text()
    assert "secret-key" in exported  # the step process gets the real URL
