"""What the model server does, apart from HTTP: predict (route, run the model, log), model info,
feedback. Each method returns ``(status, payload)`` so the HTTP layer only encodes it.

An inference-log record is one flat JSON object per instance::

    {"age": 41, "income": 52000.0, ...,          # the model's features, named as in training
     "prediction": 1, "probability": 0.83,       # probability of the predicted class (classifiers)
     "model": "credit", "model_version": "v3", "request_id": "r-17", "timestamp": 1732500000000,
     "latency_ms": 1.2}

A failed prediction is logged too, with ``"error"`` instead of ``prediction`` — canary analysis counts
errors from the log, which every replica writes. A bad request (a 400: missing features, NaN / ±Infinity /
1e999 values) is not the model's fault: it is answered, counted as ``outcome="bad_request"`` and never
logged. For a batch the ids are ``<request_id>-<i>``, and feedback refers to those ids.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DataError, DriftloopError
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.router import choose_route
from driftloop.serving.sink import InferenceLog
from driftloop.serving.slots import LoadedModel, ModelSlots

__all__ = ["MAX_INSTANCES", "PredictionService"]

log = logging.getLogger("driftloop.serving")

MAX_INSTANCES = 10_000
Reply = tuple[int, dict[str, Any]]


def _non_finite(value: Any) -> str | None:
    """How JSON spells ``value`` when it is a non-finite number (``json`` parses ``1e999`` as inf)."""
    if not isinstance(value, float) or math.isfinite(value):
        return None
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _check_finite(field: str, value: Any) -> None:
    spelled = _non_finite(value)
    if spelled is not None:
        shown = field if field.isprintable() and len(field) <= 100 else repr(field)[:100]  # one line
        raise DataError(
            f"{shown} is {spelled}, not a finite number",
            "send finite numbers (NaN, ±Infinity and numbers beyond ±1.8e308 are refused)",
        )


def _problem(status: int, exc: DriftloopError | str, hint: str | None = None) -> Reply:
    if isinstance(exc, DriftloopError):
        return status, {"error": exc.message, "hint": exc.hint}
    return status, {"error": exc, "hint": hint}


class PredictionService:
    def __init__(
        self, settings: Settings, slots: ModelSlots, sink: InferenceLog, metrics: ServingMetrics
    ) -> None:
        self.settings = settings
        self.model = slots.model
        self.slots = slots
        self.sink = sink
        self.metrics = metrics
        self.canary_fraction = settings.serving.canary_fraction

    # --- predict ----------------------------------------------------------------------------------
    def predict(self, model: str, body: Any) -> Reply:
        started = time.perf_counter()
        if model != self.model:
            return _problem(
                404,
                f"this server serves model {self.model!r}, not {model!r}",
                f"POST /v1/models/{self.model}/predict",
            )
        try:
            instances, request_id = self._parse(body)
        except DataError as exc:
            self.metrics.requests.labels(model, "", "", "bad_request").inc()
            return _problem(400, exc)
        champion, canary = self.slots.champion, self.slots.canary
        if champion is None:
            self.metrics.requests.labels(model, "", "", "unavailable").inc()
            reason = self.slots.errors.get("champion") or "no champion version is loaded yet"
            return _problem(503, reason, f"promote a version: driftloop registry promote {model} vN")
        if self.slots.pinned:
            route, served = "pinned", champion
        else:
            has_canary = canary is not None and "canary" in self.slots.follow
            route = choose_route(request_id, self.canary_fraction, has_canary)
            served = canary if route == "canary" and canary is not None else champion
        rid = request_id or uuid.uuid4().hex
        ids = [rid] if len(instances) == 1 else [f"{rid}-{i}" for i in range(len(instances))]
        try:
            preds, probas = served.predict(instances)
        except DataError as exc:
            self.metrics.requests.labels(model, served.version, route, "bad_request").inc()
            return _problem(400, exc)
        except Exception as exc:  # the model itself failed: a 500, counted and logged as an error
            elapsed = time.perf_counter() - started
            self._log(served, instances, ids, None, None, elapsed, error=f"{type(exc).__name__}: {exc}")
            self.metrics.requests.labels(model, served.version, route, "error").inc()
            self.metrics.latency.labels(model, route).observe(elapsed)
            return _problem(
                500,
                f"model {model} {served.version} failed: {type(exc).__name__}: {exc}",
                "see the server log",
            )
        elapsed = time.perf_counter() - started
        self._log(served, instances, ids, preds, probas, elapsed)
        self.metrics.requests.labels(model, served.version, route, "ok").inc()
        self.metrics.latency.labels(model, route).observe(elapsed)
        reply: dict[str, Any] = {
            "model": model,
            "model_version": served.version,
            "route": route,
            "request_id": rid,
            "ids": ids,
            "predictions": preds,
        }
        if probas is not None:
            reply["probabilities"] = probas
        return 200, reply

    @staticmethod
    def _parse(body: Any) -> tuple[list[dict[str, Any]], str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
            raise DataError(
                'the body must be a JSON object with "instances": [{feature: value, ...}]',
                'send {"instances": [{"age": 41, ...}], "request_id": "optional"}',
            )
        instances = body["instances"]
        if not instances or len(instances) > MAX_INSTANCES:
            raise DataError(
                f"send between 1 and {MAX_INSTANCES} instances, not {len(instances)}", "split the batch"
            )
        if not all(isinstance(i, dict) for i in instances):
            raise DataError("every instance must be a JSON object of feature values", "fix the instances")
        for i, inst in enumerate(instances):
            for name, value in inst.items():
                _check_finite(f"instances[{i}].{name}", value)
        rid = body.get("request_id")
        if rid is not None and (not isinstance(rid, str | int) or isinstance(rid, bool) or str(rid) == ""):
            raise DataError("request_id must be a non-empty string", "send a string id or leave it out")
        return instances, (str(rid) if rid is not None else None)

    def _log(
        self,
        served: LoadedModel,
        instances: list[dict[str, Any]],
        ids: list[str],
        preds: list[Any] | None,
        probas: list[float] | None,
        elapsed_s: float,
        error: str | None = None,
    ) -> None:
        now_ms = int(time.time() * 1000)
        latency_ms = round(elapsed_s * 1000, 3)
        names = served.features
        for i, inst in enumerate(instances):
            rec: dict[str, Any] = {n: inst.get(n) for n in names} if names is not None else dict(inst)
            if error is None:
                rec["prediction"] = preds[i] if preds is not None else None
                if probas is not None:
                    rec["probability"] = probas[i]
            else:
                rec["error"] = error
            rec["model"] = served.model
            rec["model_version"] = served.version
            rec["request_id"] = ids[i]
            rec["timestamp"] = now_ms
            rec["latency_ms"] = latency_ms
            self.sink.submit(rec)

    # --- info / feedback --------------------------------------------------------------------------
    def info(self, model: str) -> Reply:
        if model != self.model:
            return _problem(404, f"this server serves model {self.model!r}, not {model!r}")
        champion, canary = self.slots.champion, self.slots.canary
        return 200, {
            "model": self.model,
            "ready": champion is not None,
            "pinned": self.slots.pinned,
            "champion": champion.version if champion else None,
            "canary": canary.version if canary else None,
            "canary_fraction": self.canary_fraction if canary and not self.slots.pinned else 0.0,
            "features": champion.features if champion else None,
            "errors": dict(self.slots.errors),
            "log_queue_depth": self.sink.depth(),
        }

    def feedback(self, body: Any) -> Reply:
        """Ground-truth labels, ``{"request_id": id, "label": y}`` or ``{"labels": [{...}, ...]}``,
        published to ``topics.feedback`` keyed by request id."""
        batch = isinstance(body, dict) and "labels" in body
        items = body.get("labels") if batch else [body]
        if not isinstance(items, list) or not items:
            return _problem(400, 'send {"request_id": id, "label": y} or {"labels": [...]}')
        now_ms = int(time.time() * 1000)
        records = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "label" not in item or not item.get("request_id"):
                return _problem(
                    400,
                    "every label needs a request_id and a label",
                    'send {"request_id": "r-17", "label": 1}',
                )
            try:
                for key in ("request_id", "label"):
                    _check_finite(f"labels[{i}].{key}" if batch else key, item[key])
            except DataError as exc:
                return _problem(400, exc)
            records.append(
                {
                    "request_id": str(item["request_id"]),
                    "label": item["label"],
                    "model": str(item.get("model") or self.model),
                    "timestamp": now_ms,
                }
            )
        topic = self.settings.topics.feedback
        try:
            pub = self.sink.publisher()
            for rec in records:
                pub.publish(topic, rec, key=rec["request_id"])
            pub.flush(timeout_s=self.settings.kafka.request_timeout_ms / 1000)
        except DriftloopError as exc:
            return _problem(503, exc)
        self.metrics.feedback.labels(self.model).inc(len(records))
        return 202, {"accepted": len(records), "topic": topic}
