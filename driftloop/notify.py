"""Webhook notifications: retrain outcomes, canary verdicts and approval requests, POSTed per model.

A model's ``notifications.webhooks`` (:class:`driftloop.modelspec.WebhookSpec`) name a URL (or an
environment variable holding it — Slack webhook URLs are secrets), a body format and the events they
want. ``slack`` sends ``{"text": ...}`` (Slack's incoming webhooks, and Mattermost/Teams-compatible
receivers); ``json`` sends ``{"event", "model", "text", "data", "at"}``.

Notifications never fail or block a run: each webhook gets a few attempts with backoff inside a bounded
time budget, and what still fails is one logged warning. :func:`notify` returns what happened per webhook
(for the run record and the tests).
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from driftloop.modelspec import WebhookSpec

__all__ = ["Event", "body", "notify", "notify_model"]

log = logging.getLogger("driftloop.notify")

Event = Literal["outcome", "verdict", "approval"]

#: Per webhook: attempts, the first backoff (doubled each time), one request's timeout, and the total
#: budget after which we give up — a dead receiver costs a step at most this long.
ATTEMPTS = 3
BACKOFF_S = 0.5
TIMEOUT_S = 5.0
BUDGET_S = 15.0


def body(fmt: str, event: Event, model: str, text: str, data: dict[str, Any]) -> dict[str, Any]:
    """The POST body in ``fmt`` (``slack``: only the text; ``json``: everything)."""
    if fmt == "slack":
        return {"text": text}
    return {"event": event, "model": model, "text": text, "data": data, "at": time.time()}


def _url(hook: WebhookSpec) -> str:
    return hook.url.get_secret_value() or os.environ.get(hook.url_env, "")


def _shown(hook: WebhookSpec, url: str) -> str:
    """How a webhook is named in logs and results: its variable, or its scheme and host only (the path
    of a Slack-style webhook URL is its key)."""
    if hook.url_env:
        return f"${hook.url_env}"
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "(url)"


def _post(url: str, payload: dict[str, Any], timeout_s: float) -> int:
    data = json.dumps(payload, default=str).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "driftloop-notify"},
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return int(resp.status)


def _send(
    url: str, payload: dict[str, Any], budget_s: float, sleep: Callable[[float], None]
) -> tuple[bool, str]:
    deadline = time.monotonic() + budget_s
    wait, last = BACKOFF_S, ""
    for attempt in range(1, ATTEMPTS + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            status = _post(url, payload, min(TIMEOUT_S, left))
            if 200 <= status < 300:
                return True, f"HTTP {status}"
            last = f"HTTP {status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                break  # the receiver refuses this body: retrying will not help
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < ATTEMPTS and time.monotonic() + wait < deadline:
            sleep(wait)
            wait *= 2
    return False, last or "time budget spent"


def notify(
    webhooks: Iterable[WebhookSpec],
    event: Event,
    model: str,
    text: str,
    data: dict[str, Any] | None = None,
    *,
    budget_s: float = BUDGET_S,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """POST ``event`` to every webhook that wants it; never raises. Returns ``[{url, ok, detail}]``."""
    results: list[dict[str, Any]] = []
    for hook in webhooks:
        if event not in hook.events:
            continue
        url = _url(hook)
        shown = _shown(hook, url)
        if not url:
            log.warning("webhook %s is not set: %s notification for %s skipped", shown, event, model)
            results.append({"url": shown, "ok": False, "detail": "no url"})
            continue
        try:
            ok, detail = _send(url, body(hook.format, event, model, text, data or {}), budget_s, sleep)
        except Exception as exc:  # a notification must never fail the run
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            log.warning("webhook %s: %s notification for %s not delivered (%s)", shown, event, model, detail)
        results.append({"url": shown, "ok": ok, "detail": detail})
    return results


def notify_model(
    settings: Any, model: str, event: Event, text: str, data: dict[str, Any] | None = None
) -> None:
    """:func:`notify` with ``model``'s webhooks from the settings (nothing when it has none)."""
    spec = getattr(settings, "models", {}).get(model)
    hooks = spec.notifications.webhooks if spec is not None else []
    if hooks:
        notify(hooks, event, model, text, data)
