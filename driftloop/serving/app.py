"""The HTTP layer: one Starlette ASGI app (served by uvicorn, see :mod:`driftloop.serving.server`).

Endpoints — Open Inference Protocol V2, KServe V1 and driftloop's own::

    GET  /v2/health/live   /v2/health/ready   /v2          (server metadata)
    GET  /v2/models/{m}    /v2/models/{m}/ready            POST /v2/models/{m}/infer
    GET  /v1/models        /v1/models/{m}                  POST /v1/models/{m}:predict
    POST /v1/models/{m}/predict   (driftloop's original path: the same handler as :predict)
    POST /v1/feedback      (bearer token when serving.auth_token is set)
    GET  /healthz  /readyz  /metrics

Why Starlette and not FastAPI: the request and response shapes are checked by hand (one-line 400s that
name the field, NaN refused — :mod:`driftloop.serving.protocol`), so FastAPI's pydantic layer would only
add cost. Measured here (in-process ASGI call of a JSON POST, 5,000 calls, same handler body): Starlette
1.10 p50 16-26 µs / p99 28-47 µs, FastAPI 0.165 p50 46 µs / p99 82-88 µs; import + app build 37-45 ms vs
254-322 ms (FastAPI now also pulls in opentelemetry-api). The OpenAPI page FastAPI would generate is not
worth that on the request path.

Predictions run in worker threads (``predict_threads``, default 4; 0 runs them on the event loop) so
the loop keeps answering health checks and metrics while a large batch is scored — on the event loop a
10,000-row batch would stall the liveness probe. Measured on a shared 2-core machine (1-row predicts at
concurrency 64, tests/benchmarks/bench_serving.py), 0, 1, 4 and 16 threads gave the same latencies
within the run-to-run noise. Feedback (a Kafka flush) runs in a thread too.
A body is read only up to ``max_body`` bytes: a ``Content-Length`` over it is answered 413 before a byte
is read, and a chunked body is counted as it arrives. It is parsed in a worker thread (``parse_threads``,
2: at most two bodies are turned into Python objects at once), never on the event loop, and only if it
holds at most ``max_values`` JSON values (:func:`parse_json`: counted on the raw bytes, in C, before
parsing — a 28 MB array of 3.5M nested one-element arrays would take gigabytes as Python objects) nested at
most ``max_depth`` deep. So one request costs at most a bounded multiple of ``max_body`` in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from driftloop.errors import DataError
from driftloop.serving.metrics import CONTENT_TYPE, ServingMetrics
from driftloop.serving.service import PredictionService

__all__ = ["MAX_BODY", "BodyError", "BodyLimits", "build_app", "parse_json"]

log = logging.getLogger("driftloop.serving")

#: The largest request body read, in bytes: a full batch (service.MAX_INSTANCES rows) with room to spare.
MAX_BODY = 32 * 1024 * 1024
_LENGTH = re.compile(r"[0-9]+", re.ASCII)
#: A JSON string (its escapes included), to count what is outside strings.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')

Services = Callable[[], dict[str, PredictionService]]


class BodyError(DataError):
    """A request body the server will not read or cannot parse; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class BodyLimits:
    """What one request body may be (``serving.max_body_bytes``, ``max_json_values``, ``max_json_depth``)."""

    max_body: int = MAX_BODY
    max_values: int = 1_000_000
    max_depth: int = 32


def _values_bound(raw: bytes) -> int:
    """An upper bound of the JSON values in ``raw``: every value but the first follows a comma or opens an
    array or object. Computed with ``bytes.count`` (C speed, no objects); commas and brackets inside
    strings only make it larger."""
    return 1 + raw.count(b",") + raw.count(b"[") + raw.count(b"{")


def _check_depth(value: Any, max_depth: int) -> None:
    stack = [(value, 1)]
    while stack:  # iterative, over at most max_values values
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, list | dict):
                if depth + 1 > max_depth:
                    raise BodyError(
                        400, f"the body nests arrays or objects over {max_depth} deep", "send flatter JSON"
                    )
                stack.append((child, depth + 1))


def parse_json(raw: bytes, limits: BodyLimits) -> tuple[Any, bytes]:
    """The JSON value of ``raw`` and its digest (what a route is keyed on), within ``limits``. Runs in a
    worker thread: parsing is the costly part, and the event loop must keep answering probes."""
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    if not raw:
        return None, digest
    if _values_bound(raw) > limits.max_values and _values_bound(_STRING.sub(b"0", raw)) > limits.max_values:
        raise BodyError(
            413,
            f"the body holds more than {limits.max_values} JSON values",
            "split the batch (serving.max_json_values)",
        )
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        if isinstance(exc, RecursionError):
            raise BodyError(
                400, f"the body nests arrays or objects over {limits.max_depth} deep", "send flatter JSON"
            ) from None
        raise BodyError(400, f"the body is not valid JSON: {exc}", "send a JSON object") from None
    if isinstance(value, list | dict):
        _check_depth(value, limits.max_depth)
    return value, digest


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str).encode()


def _reply(status: int, payload: Any, close: bool = False) -> Response:
    return _JSON(payload, status_code=status, headers={"Connection": "close"} if close else None)


def _problem(status: int, message: str, hint: str | None = None, close: bool = False) -> Response:
    return _reply(status, {"error": message, "hint": hint}, close)


def _declared_length(request: Request, max_body: int) -> int | None:
    """The body's ``Content-Length`` (None: chunked), checked before anything is read."""
    values = [v.strip() for v in request.headers.getlist("content-length")]
    if not values:
        return None
    if len(set(values)) > 1 or not _LENGTH.fullmatch(values[0]):
        shown = ", ".join(values)
        raise BodyError(
            400,
            f"Content-Length must be one non-negative integer, not {shown[:40]!r}",
            "send the body's size",
        )
    digits = values[0].lstrip("0") or "0"  # int() refuses over 4300 digits: compare lengths first
    if len(digits) > len(str(max_body)) or int(digits) > max_body:
        shown = digits[:20] + ("…" if len(digits) > 20 else "")
        raise BodyError(
            413, f"the body (Content-Length {shown}) is over the limit of {max_body} bytes", "split the batch"
        )
    return int(digits)


async def _raw_body(request: Request, max_body: int) -> bytes:
    _declared_length(request, max_body)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise BodyError(413, f"the body is over the limit of {max_body} bytes", "split the batch")
        chunks.append(chunk)
    return b"".join(chunks)


class _Endpoints:
    def __init__(
        self,
        services: Services,
        metrics: ServingMetrics,
        auth_token: str,
        limits: BodyLimits,
        predict_threads: int,
        parse_threads: int,
    ) -> None:
        self.services = services
        self.metrics = metrics
        self.auth_token = auth_token.encode()
        self.limits = limits
        self.limiter = anyio.CapacityLimiter(predict_threads) if predict_threads else None
        self.parse_limiter = anyio.CapacityLimiter(parse_threads)

    # --- helpers ------------------------------------------------------------------------------------
    def _service(self, request: Request) -> PredictionService | Response:
        model = request.path_params["name"]
        svc = self.services().get(model)
        if svc is None:
            known = sorted(self.services())
            return _problem(404, f"model {model!r} is not served here", f"served: {known}")
        return svc

    async def _body(self, request: Request) -> tuple[Any, bytes] | Response:
        """The JSON body and its digest, or a Response that refuses it."""
        try:
            raw = await _raw_body(request, self.limits.max_body)
            return await anyio.to_thread.run_sync(parse_json, raw, self.limits, limiter=self.parse_limiter)
        except BodyError as exc:
            return _problem(exc.status, exc.message, exc.hint, close=exc.status == 413)
        except ClientDisconnect:  # the client left (or the read deadline closed it): nobody to answer
            log.debug("%s left before sending its body", request.client)
            return Response(status_code=400)

    def _authorized(self, request: Request) -> bool:
        if not self.auth_token:
            return True
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self.auth_token)
        if not ok:
            self.metrics.unauthorized.labels(request.url.path).inc()
        return ok

    async def _call(self, fn: Callable[..., tuple[int, Any]], *args: Any) -> Response:
        if self.limiter is None:
            status, payload = fn(*args)
        else:
            status, payload = await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        return _reply(status, payload)

    # --- health / metrics -----------------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        return _reply(200, {"live": True} if request.url.path.startswith("/v2") else {"status": "ok"})

    async def ready(self, request: Request) -> Response:
        services = self.services()
        ready = {m: s.slots.ready for m, s in services.items()}
        ok = bool(ready) and all(ready.values())
        if request.url.path.startswith("/v2"):
            return _reply(200 if ok else 503, {"ready": ok})
        errors = {m: dict(s.slots.errors) for m, s in services.items() if s.slots.errors}
        return _reply(200 if ok else 503, {"ready": ok, "models": ready, "errors": errors})

    async def metrics_page(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def server_metadata(self, request: Request) -> Response:
        from driftloop import __version__

        return _reply(200, {"name": "driftloop", "version": __version__, "extensions": []})

    # --- models ---------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        return _reply(200, {"models": sorted(self.services())})

    async def v1_model(self, request: Request) -> Response:
        svc = self._service(request)
        if isinstance(svc, Response):
            return svc
        status, info = svc.info(svc.model)
        return _reply(status, {"name": svc.model, **info})

    async def v2_model(self, request: Request) -> Response:
        svc = self._service(request)
        return svc if isinstance(svc, Response) else _reply(*svc.metadata(svc.model))

    async def v2_model_ready(self, request: Request) -> Response:
        svc = self._service(request)
        if isinstance(svc, Response):
            return svc
        return _reply(200 if svc.slots.ready else 503, {"name": svc.model, "ready": svc.slots.ready})

    async def predict(self, request: Request) -> Response:
        svc = self._service(request)
        if isinstance(svc, Response):
            return svc
        body = await self._body(request)
        return body if isinstance(body, Response) else await self._call(svc.predict, svc.model, *body)

    async def infer(self, request: Request) -> Response:
        svc = self._service(request)
        if isinstance(svc, Response):
            return svc
        body = await self._body(request)
        return body if isinstance(body, Response) else await self._call(svc.infer, svc.model, *body)

    async def feedback(self, request: Request) -> Response:
        if not self._authorized(request):
            return _JSON(
                {
                    "error": "POST /v1/feedback needs the serving token",
                    "hint": "send Authorization: Bearer <token>",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="driftloop"'},
            )
        parsed = await self._body(request)
        if isinstance(parsed, Response):
            return parsed
        body = parsed[0]
        services = self.services()
        named = body.get("model") if isinstance(body, dict) else None
        svc = services.get(str(named)) if named else next(iter(services.values()), None)
        if svc is None:
            return _problem(404, f"model {named!r} is not served here", f"served: {sorted(services)}")
        status, payload = await anyio.to_thread.run_sync(svc.feedback, body)  # a Kafka flush: off the loop
        return _reply(status, payload)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _problem(500, f"internal error: {type(exc).__name__}", "see the server log")


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return _problem(status, f"no such endpoint: {request.method} {request.url.path}")


def build_app(
    services: Services,
    metrics: ServingMetrics,
    *,
    auth_token: str = "",
    limits: BodyLimits | None = None,
    predict_threads: int = 4,
    parse_threads: int = 2,
) -> Starlette:
    """The ASGI app over ``services`` (model -> service, read per request: models come and go)."""
    e = _Endpoints(services, metrics, auth_token, limits or BodyLimits(), predict_threads, parse_threads)
    routes = [
        Route("/healthz", e.live, methods=["GET"]),
        Route("/readyz", e.ready, methods=["GET"]),
        Route("/metrics", e.metrics_page, methods=["GET"]),
        Route("/v2", e.server_metadata, methods=["GET"]),
        Route("/v2/health/live", e.live, methods=["GET"]),
        Route("/v2/health/ready", e.ready, methods=["GET"]),
        Route("/v2/models/{name}", e.v2_model, methods=["GET"]),
        Route("/v2/models/{name}/ready", e.v2_model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", e.infer, methods=["POST"]),
        Route("/v1/models", e.models, methods=["GET"]),
        Route("/v1/models/{name}:predict", e.predict, methods=["POST"]),
        Route("/v1/models/{name}/predict", e.predict, methods=["POST"]),
        Route("/v1/models/{name}", e.v1_model, methods=["GET"]),
        Route("/v1/feedback", e.feedback, methods=["POST"]),
    ]
    return Starlette(
        routes=routes, exception_handlers={404: _not_found, 405: _not_found, Exception: _unexpected}
    )
