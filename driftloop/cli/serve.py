"""``driftloop serve --model M``: the model server (see :mod:`driftloop.serving`).

``driftloop up`` runs the same server for every model in the registry
(:func:`driftloop.serving.server_component`).
"""

from __future__ import annotations

import threading

import typer

from driftloop.cli._common import err_console, settings_from

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    model: list[str] = typer.Option(
        [], "--model", "-m", help="model to serve (repeatable; none = every model in the registry)"
    ),
    model_version: str | None = typer.Option(
        None,
        "--model-version",
        help="serve only this version ('v3'), or 'champion' to follow the champion without a canary",
    ),
    host: str | None = typer.Option(None, help="address to listen on [serving.host]"),
    port: int | None = typer.Option(None, help="port to listen on for predict [serving.port]"),
    feedback_port: int | None = typer.Option(
        None, help="port to listen on for POST /v1/feedback alone [serving.feedback_port]"
    ),
) -> None:
    """Serve a model's champion — and its canary (or shadow) as its canary_deploy record says — over HTTP.

    POST /v2/models/<model>/infer (Open Inference Protocol V2), POST /v1/models/<model>:predict
    {"instances": [...]} (KServe V1); GET /v2/health/live, /v2/health/ready, /healthz, /readyz, /metrics,
    /v1/models/<model>, /v2/models/<model>; and on the feedback port only: POST /v1/feedback
    {"request_id", "label"} (Authorization: Bearer <serving.auth_token> when set). Ctrl-C or SIGTERM
    stops gracefully: /readyz answers 503 for serving.drain_s while requests are still served, then
    requests in progress finish and the inference log is flushed to Kafka.
    """
    import signal

    from driftloop.serving import ModelServer
    from driftloop.serving.presence import announce

    settings = settings_from(
        ctx, **{"serving.host": host, "serving.port": port, "serving.feedback_port": feedback_port}
    )
    server = ModelServer(settings, list(model) or None, version=model_version)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    what = ", ".join(model) or "every registered model"
    err_console.print(f"serving {what} at {server.url}, feedback at {server.feedback_url} — Ctrl-C stops")
    try:
        with announce(settings.data_dir, server.url, list(model) or None, server.feedback_url):
            while not stop.wait(0.5):
                if not server.healthy():
                    break
            if stop.is_set():  # asked to stop (SIGTERM / Ctrl-C): let the load balancer notice first
                server.drain(settings.serving.drain_s)
    finally:
        server.stop()
