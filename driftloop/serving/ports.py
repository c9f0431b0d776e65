"""Two ports, one app: predict traffic on ``serving.port``, feedback on ``serving.feedback_port``.

Feedback labels decide a canary's verdict, so on a cluster the NetworkPolicy admits the feedback port only
from the namespaces named for it while predict stays open. That works only if each port serves its own
paths: the predict port refuses ``POST /v1/feedback`` (a 404 naming the feedback port) and the feedback
port serves nothing but feedback and the health probes (a 404 naming the predict port). Which port a
request came in on is the local address of its connection (ASGI ``scope["server"]``), which a client
cannot choose — unlike a Host header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from driftloop.serving.app import problem

__all__ = ["FEEDBACK_PATH", "FEEDBACK_PORT_PATHS", "split_ports"]

FEEDBACK_PATH = "/v1/feedback"
#: all the feedback port answers (the probes, so a kubelet may check either port)
FEEDBACK_PORT_PATHS = frozenset({FEEDBACK_PATH, "/healthz", "/readyz"})


def split_ports(app: ASGIApp, *, predict_port: int, feedback_port: int) -> ASGIApp:
    """``app`` behind a check of the connection's local port against the path (HTTP only)."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            on_feedback = server is not None and server[1] == feedback_port
            path = scope["path"]
            if path == FEEDBACK_PATH and not on_feedback:
                refusal = problem(
                    404,
                    f"no feedback on the predict port: POST {FEEDBACK_PATH} to port {feedback_port}",
                    "the feedback port is serving.feedback_port",
                    close=True,
                )
                return await refusal(scope, receive, send)
            if on_feedback and path not in FEEDBACK_PORT_PATHS:
                refusal = problem(
                    404,
                    f"port {feedback_port} takes only POST {FEEDBACK_PATH} (and /healthz, /readyz): send "
                    f"{path} to port {predict_port}",
                    "the predict port is serving.port",
                    close=True,
                )
                return await refusal(scope, receive, send)
        await app(scope, receive, send)

    return dispatch
