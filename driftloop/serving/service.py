"""What the model server does, apart from HTTP: predict (route, run the model, log, mirror), model info,
feedback. Each method returns ``(status, payload)`` so the HTTP layer only encodes it; the request and
response shapes of KServe V1 and the Open Inference Protocol V2 are in :mod:`driftloop.serving.protocol`.

An inference-log record is one flat JSON object per instance::

    {"age": 41, "income": 52000.0, ...,          # the model's features, named as in training
     "prediction": 1, "probability": 0.83,       # probability of the predicted class (classifiers)
     "model": "credit", "model_version": "v3", "request_id": "r-17", "timestamp": 1732500000000,
     "latency_ms": 1.2}

A multiclass model's record also carries ``"probabilities": [p_0, ..., p_k-1]``, every class's
probability in its ``classes_`` order (6 significant digits), for multiclass CBPE and the measured ROC
AUC / log loss of the monitors; the response to the client is the same for every model.

A failed prediction is logged too, with ``"error"`` instead of ``prediction`` — canary analysis counts
errors from the log, which every replica writes. A bad request (a 400: missing features, NaN / ±Infinity /
1e999 values) is not the model's fault: it is answered, counted as ``outcome="bad_request"`` and never
logged. For a batch the ids are ``<request_id>-<i>``, and feedback refers to those ids.

Routing follows the canary's plan (:class:`~driftloop.serving.slots.CanaryPlan`): ``canary`` sends
``fraction`` of requests to the canary; ``shadow`` answers every request with the champion and mirrors
``fraction`` of them (all by default) to the challenger through :class:`~driftloop.serving.shadow.
ShadowRunner`. A mirrored prediction is logged with ``"route": "shadow"`` and the same ids — only shadow
records carry ``route`` (the monitors read every other key of a record as a feature).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DataError, DriftloopError
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.protocol import (
    check_feature,
    check_finite,
    v1_instances,
    v2_datatype,
    v2_instances,
    v2_metadata,
    v2_response,
)
from driftloop.serving.router import Router, sticky_key
from driftloop.serving.shadow import ShadowJob, ShadowRunner
from driftloop.serving.sink import InferenceLog
from driftloop.serving.slots import LoadedModel, ModelSlots

__all__ = ["MAX_INSTANCES", "PredictionService", "log_records"]

log = logging.getLogger("driftloop.serving")

MAX_INSTANCES = 10_000
Reply = tuple[int, dict[str, Any]]


def _problem(status: int, exc: DriftloopError | str, hint: str | None = None) -> Reply:
    if isinstance(exc, DriftloopError):
        return status, {"error": exc.message, "hint": exc.hint}
    return status, {"error": exc, "hint": hint}


def log_records(
    sink: InferenceLog,
    served: LoadedModel,
    instances: list[dict[str, Any]],
    ids: list[str],
    preds: list[Any] | None,
    probas: list[float] | None,
    elapsed_s: float,
    route: str | None = None,
    error: str | None = None,
    probabilities: list[list[float]] | None = None,
) -> None:
    """One record per instance onto the inference log (``route`` is written for ``shadow`` only;
    ``probabilities``: a multiclass model's class probabilities, one vector per instance)."""
    now_ms = int(time.time() * 1000)
    latency_ms = round(elapsed_s * 1000, 3)
    names = served.features
    for i, inst in enumerate(instances):
        rec: dict[str, Any] = {n: inst.get(n) for n in names} if names is not None else dict(inst)
        if error is None:
            rec["prediction"] = preds[i] if preds is not None else None
            if probas is not None:
                rec["probability"] = probas[i]
            if probabilities is not None:
                rec["probabilities"] = probabilities[i]
        else:
            rec["error"] = error
        rec["model"] = served.model
        rec["model_version"] = served.version
        rec["request_id"] = ids[i]
        rec["timestamp"] = now_ms
        rec["latency_ms"] = latency_ms
        if route is not None:
            rec["route"] = route
        sink.submit(rec)


class PredictionService:
    def __init__(
        self,
        settings: Settings,
        slots: ModelSlots,
        sink: InferenceLog,
        metrics: ServingMetrics,
        shadow: ShadowRunner | None = None,
        router: Router | None = None,
    ) -> None:
        self.settings = settings
        self.model = slots.model
        self.slots = slots
        self.sink = sink
        self.metrics = metrics
        self.canary_fraction = settings.serving.canary_fraction
        self.shadow = shadow
        self.router = router if router is not None else Router()

    def _wrong_model(self, model: str) -> Reply:
        return _problem(404, f"this server serves model {self.model!r}, not {model!r}")

    def _bad_request(self, exc: DataError) -> Reply:
        self.metrics.requests.labels(self.model, "", "", "bad_request").inc()
        return _problem(400, exc)

    # --- predict ----------------------------------------------------------------------------------
    def predict(self, model: str, body: Any, digest: bytes | None = None) -> Reply:
        """KServe V1 (and the legacy ``/v1/models/<m>/predict``): ``{"instances": [...]}``.

        ``digest``: the raw body's digest, which the route is keyed on with the request id (see
        :mod:`driftloop.serving.router`)."""
        if model != self.model:
            return self._wrong_model(model)
        champion = self.slots.champion
        try:
            body = v1_instances(body, champion.features if champion else None)
            instances, request_id = self._parse(body)
        except DataError as exc:
            return self._bad_request(exc)
        return self.predict_rows(instances, request_id, digest)

    def infer(self, model: str, body: Any, digest: bytes | None = None) -> Reply:
        """Open Inference Protocol V2: named tensors in, named tensors out."""
        if model != self.model:
            return self._wrong_model(model)
        champion = self.slots.champion
        try:
            instances, request_id = v2_instances(body, champion.features if champion else None, MAX_INSTANCES)
            if len(instances) > MAX_INSTANCES:
                raise DataError(f"send at most {MAX_INSTANCES} rows, not {len(instances)}", "split the batch")
        except DataError as exc:
            return self._bad_request(exc)
        if not instances:
            return self._bad_request(DataError("the inputs have 0 rows", "send at least one row"))
        status, reply = self.predict_rows(instances, request_id, digest)
        return (status, v2_response(reply)) if status == 200 else (status, reply)

    def _routes(self, sticky: bytes | None) -> tuple[str, LoadedModel, LoadedModel | None]:
        """The route, the version that answers, and the version that scores a mirror (or None)."""
        champion, canary, plan = self.slots.champion, self.slots.canary, self.slots.plan
        assert champion is not None
        if self.slots.pinned or canary is None:
            return ("pinned" if self.slots.pinned else "champion"), champion, None
        if plan is not None and plan.strategy == "shadow":
            fraction = plan.fraction if plan.fraction is not None else 1.0
            mirrored = self.router.choose(sticky, fraction) == "canary"
            return "champion", champion, (canary if mirrored else None)
        if "canary" not in self.slots.follow:
            return "champion", champion, None
        fraction = plan.fraction if plan is not None and plan.fraction is not None else self.canary_fraction
        route = self.router.choose(sticky, fraction)
        return route, (canary if route == "canary" else champion), None

    def _other(self, served: LoadedModel) -> LoadedModel | None:
        """The other loaded version (champion <-> canary), to tell a client's error from a model's."""
        other = self.slots.canary if served is self.slots.champion else self.slots.champion
        return None if other is None or other is served or other.version == served.version else other

    def predict_rows(
        self, instances: list[dict[str, Any]], request_id: str | None, digest: bytes | None = None
    ) -> Reply:
        """Route, predict, log and (in shadow mode) mirror checked rows of feature values.

        A prediction that raises is the model's failure (a 500, logged with ``"error"``: canary analysis
        counts it) unless the input is to blame — a 400, not logged, so a client cannot raise a version's
        error rate with input no version accepts. The input is to blame when the other loaded version
        (champion <-> canary) fails on the same rows too, or, on a server with one version (a Kubernetes
        canary pod, where a client can keep its connection), when the rows hold a kind of value (a string
        where it has only scored numbers, say) that version has never scored for that feature."""
        started = time.perf_counter()
        model = self.model
        if self.slots.champion is None:
            self.metrics.requests.labels(model, "", "", "unavailable").inc()
            reason = self.slots.errors.get("champion") or "no champion version is loaded yet"
            return _problem(503, reason, f"promote a version: driftloop registry promote {model} vN")
        route, served, mirror = self._routes(sticky_key(request_id, digest))
        rid = request_id or uuid.uuid4().hex
        ids = [rid] if len(instances) == 1 else [f"{rid}-{i}" for i in range(len(instances))]
        try:
            preds, probas, vectors = served.predict(instances)
        except DataError as exc:
            self.metrics.requests.labels(model, served.version, route, "bad_request").inc()
            return _problem(400, exc)
        except Exception as exc:  # the model failed: its fault, unless the input is (see the docstring)
            blame = self._client_fault(served, instances)
            if blame is not None:
                self.metrics.requests.labels(model, served.version, route, "bad_request").inc()
                return _problem(400, blame, "send each feature the type of value the model takes")
            detail = f"{type(exc).__name__}: {exc}"[:500]  # the client's values may be in the text
            log.warning("model %s %s failed on a request: %s", model, served.version, detail)
            elapsed = time.perf_counter() - started
            log_records(self.sink, served, instances, ids, None, None, elapsed, None, detail)
            self.metrics.requests.labels(model, served.version, route, "error").inc()
            self.metrics.latency.labels(model, route).observe(elapsed)
            return _problem(
                500, f"model {model} {served.version} failed ({type(exc).__name__})", "see the server log"
            )
        elapsed = time.perf_counter() - started
        served.note_scored(instances)
        log_records(self.sink, served, instances, ids, preds, probas, elapsed, probabilities=vectors)
        if mirror is not None and self.shadow is not None:
            self.shadow.submit(ShadowJob(mirror, instances, ids))
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

    def _client_fault(self, served: LoadedModel, instances: list[dict[str, Any]]) -> str | None:
        """Why a failure of ``served`` on ``instances`` is the client's (None: it is the model's)."""
        other = self._other(served)
        if other is None:  # one version (a pinned pod): a kind of value it has never scored is to blame
            return served.unscored_kind(instances)
        try:
            other.predict(instances)
        except Exception:
            return f"no version of model {self.model} can score these feature values"
        return None

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
                check_feature(f"instances[{i}].{name}", value)
        rid = body.get("request_id")
        if rid is not None and (not isinstance(rid, str | int) or isinstance(rid, bool) or str(rid) == ""):
            raise DataError("request_id must be a non-empty string", "send a string id or leave it out")
        return instances, (str(rid) if rid is not None else None)

    # --- info / feedback --------------------------------------------------------------------------
    def metadata(self, model: str) -> Reply:
        """OIP V2 model metadata (of the champion; ``versions`` lists the canary too)."""
        if model != self.model:
            return self._wrong_model(model)
        champion, canary = self.slots.champion, self.slots.canary
        if champion is None:
            return _problem(503, f"model {model} has no version loaded yet", "GET /v2/health/ready")
        if champion.has_proba and champion.classes is not None:
            datatype = v2_datatype(champion.classes.tolist())
        else:
            datatype = "FP64"
        versions = [champion.version] + ([canary.version] if canary is not None else [])
        return 200, v2_metadata(
            model, versions, champion.platform, champion.features, datatype, champion.has_proba
        )

    def info(self, model: str) -> Reply:
        if model != self.model:
            return self._wrong_model(model)
        champion, canary, plan = self.slots.champion, self.slots.canary, self.slots.plan
        shadow = bool(canary and plan and plan.strategy == "shadow")
        if not canary or self.slots.pinned:
            fraction = 0.0
        elif plan is not None and plan.fraction is not None:
            fraction = plan.fraction
        else:
            fraction = 1.0 if shadow else self.canary_fraction
        return 200, {
            "model": self.model,
            "ready": champion is not None,
            "pinned": self.slots.pinned,
            "champion": champion.version if champion else None,
            "canary": canary.version if canary else None,
            "strategy": ("shadow" if shadow else "canary") if canary else None,
            "canary_fraction": fraction,
            "step": plan.step if canary and plan else None,
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
                    check_finite(f"labels[{i}].{key}" if batch else key, item[key])
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
