"""The model versions a server holds (champion and canary, or one pinned version) and the thread that
keeps them in step with the registry's alias pointers.

Every ``poll_s`` the watcher reads the alias pointers (one small S3 GET each). When one names a new
version, that version is loaded *off the request path* — the registry checks its sha256 first — and then
swapped in with one attribute assignment, so a request sees either the old or the new model, never a
half-loaded one. A version that fails to load (a tampered file: :class:`IntegrityError`) is refused with
an error in the log and in ``/v1/models/<model>``; the server keeps the model it had (and is not ready if
it had none). The refused version is retried only after ``retry_failed_s`` or when the pointer moves.

With a canary, each poll also reads the canary version's ``canary_deploy`` record (written by the deploy
target): ``strategy`` (``canary`` | ``shadow``), ``fraction`` (this step's share of traffic, 0..1) and
``step``. That record, not ``serving.canary_fraction``, then decides the routing (see
:class:`CanaryPlan`); a stepped rollout rewrites it without moving the alias. A server that follows the
champion only (a Kubernetes stable pod) loads the canary version too when the plan says ``shadow``: the
stable pods answer and mirror.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from driftloop.errors import DataError, DriftloopError, IntegrityError, UsageError
from driftloop.registry import Registry
from driftloop.serving.metrics import ServingMetrics

__all__ = ["CanaryPlan", "LoadedModel", "ModelSlots"]

log = logging.getLogger("driftloop.serving")


@dataclass(frozen=True)
class CanaryPlan:
    """How the canary takes traffic, from its ``canary_deploy`` registry record.

    ``fraction`` None: the server's ``serving.canary_fraction`` (canary) or every request (shadow)."""

    strategy: str = "canary"
    fraction: float | None = None
    step: int = 0

    def __str__(self) -> str:
        """For the log: ``canary 10% of requests (step 2)``, ``shadow (every request, mirrored)``."""
        if self.strategy == "shadow":
            share = "every request" if self.fraction is None else f"{self.fraction:.0%} of requests"
            return f"shadow ({share}, mirrored)"
        if self.fraction is None:
            return "canary the server's canary_fraction" + (f" (step {self.step})" if self.step else "")
        share = f"{self.fraction:.0%} of requests"
        return f"canary {share}" + (f" (step {self.step})" if self.step else "")

    @classmethod
    def from_record(cls, record: Any) -> CanaryPlan:
        """A plan from the record; a missing or malformed field falls back to its default."""
        if not isinstance(record, dict):
            return cls()
        strategy = record.get("strategy", "canary")
        if strategy not in ("canary", "shadow"):
            log.warning("canary_deploy strategy %r is not canary or shadow; routing as canary", strategy)
            strategy = "canary"
        value = record.get("fraction")
        fraction: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            fraction = float(value)
        elif value is not None:
            log.warning("canary_deploy fraction %r is not a number in [0, 1]; using the default", value)
        step = record.get("step", 0)
        return cls(strategy, fraction, step if isinstance(step, int) and not isinstance(step, bool) else 0)


@dataclass
class LoadedModel:
    """One loaded model version and how to turn JSON instances into its input."""

    model: str
    version: str
    estimator: Any
    sha256: str = ""
    loaded_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        names = getattr(self.estimator, "feature_names_in_", None)
        self.features: list[str] | None = [str(n) for n in names] if names is not None else None
        self.classes = getattr(self.estimator, "classes_", None)
        self.has_proba = hasattr(self.estimator, "predict_proba") and self.classes is not None
        #: more than two classes: the inference log gets every class's probability (multiclass CBPE)
        self.multiclass = self.classes is not None and self.has_proba and len(self.classes) > 2
        #: the OIP ``platform``: the estimator's top-level package (``sklearn``, ``xgboost``, ...)
        self.platform = type(self.estimator).__module__.split(".", 1)[0]
        #: feature -> the JSON kinds of value this version has scored there (see :meth:`unscored_kind`);
        #: only the model's features (a client's extra keys would grow it without bound)
        self.scored_kinds: dict[str, set[str]] = {}
        self._feature_set = frozenset(self.features or ())

    def note_scored(self, instances: list[dict[str, Any]]) -> None:
        """Remember the kinds of value (number, string, ...) these successfully scored rows held."""
        if not self._feature_set:
            return  # not fitted on named features: the keys are the client's, nothing to learn from
        for inst in instances:
            for name, value in inst.items():
                if name not in self._feature_set:
                    continue
                kind = _kind(value)
                seen = self.scored_kinds.get(name)
                if seen is None:
                    self.scored_kinds[name] = {kind}
                elif kind not in seen:
                    seen.add(kind)  # set.add is atomic under the GIL; readers only test membership

    def unscored_kind(self, instances: list[dict[str, Any]]) -> str | None:
        """Where the rows hold a kind of value this version has never scored for a feature it has scored
        (a string where it has only taken numbers): what a failure on them is blamed on — the client's
        input, not the model. None: every value is of a kind scored before (or the feature never was)."""
        for i, inst in enumerate(instances):
            for name, value in inst.items():
                if name not in self._feature_set:
                    continue  # not given to the model
                seen = self.scored_kinds.get(name)
                kind = _kind(value)
                if seen and kind not in seen:
                    shown = name if name.isprintable() and len(name) <= 60 else repr(name)[:60]
                    scored = " or ".join(sorted(seen))
                    where = f"instances[{i}].{shown}"
                    return f"{where} is {kind}, and {self.model} {self.version} has only scored {scored}"
        return None

    def frame(self, instances: list[dict[str, Any]]) -> Any:
        """The model input: a DataFrame with the model's feature columns (when it was fitted on one)."""
        if self.features is None:
            import numpy as np

            return np.asarray([list(inst.values()) for inst in instances], dtype=float)
        missing = sorted({n for inst in instances for n in self.features if n not in inst})
        if missing:
            raise DataError(
                f"instances lack features of {self.model} {self.version}: {missing}",
                f"send every feature: {self.features}",
            )
        import pandas as pd

        return pd.DataFrame.from_records(instances, columns=self.features)

    def predict(
        self, instances: list[dict[str, Any]]
    ) -> tuple[list[Any], list[float] | None, list[list[float]] | None]:
        """Predictions; for classifiers the probability of each predicted class (what a client gets);
        and what only the inference log gets: a multiclass model's probabilities of every class, in
        ``classes_`` order, rounded to 6 significant digits (None for other models)."""
        x = self.frame(instances)
        if self.has_proba:
            proba = self.estimator.predict_proba(x)
            idx = proba.argmax(axis=1)
            preds = self.classes[idx].tolist()  # type: ignore[index]  # has_proba implies classes
            vectors = _round_significant(proba).tolist() if self.multiclass else None
            return preds, proba[range(len(idx)), idx].tolist(), vectors
        out = self.estimator.predict(x)
        return (out.tolist() if hasattr(out, "tolist") else list(out)), None, None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__


def _round_significant(values: Any, digits: int = 6) -> Any:
    """``values`` (an array) rounded to ``digits`` significant digits, in a few array operations: a
    logged probability stays short in JSON (``0.123457``, not ``0.12345678901234568``) and keeps the
    precision of a small one (``3.2e-09``), which rounding to decimals would zero."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(a)))
    exponent = np.clip(np.where(np.isfinite(exponent), exponent, 0.0), -290.0, 290.0)  # 10**x finite
    scale = 10.0 ** (digits - 1 - exponent)
    return np.round(a * scale) / scale


class ModelSlots:
    """What a server holds. ``version`` None: follow ``champion`` and ``canary``; ``"champion"``: follow
    the champion only (a Kubernetes stable pod — the canary runs in its own Deployment); ``"vN"``: that
    version only (``pinned``; a canary pod, or a stable pod after a promote)."""

    def __init__(
        self,
        registry: Registry,
        model: str,
        metrics: ServingMetrics,
        version: str | None = None,
        poll_s: float = 1.0,
        retry_failed_s: float = 30.0,
    ) -> None:
        self.registry = registry
        self.model = model
        self.metrics = metrics
        if version == "canary":
            raise UsageError(
                "a server cannot follow the canary alias alone",
                "pin a version (--model-version v3) or follow the champion",
            )
        self.pinned = version if version and version != "champion" else None
        self.follow: tuple[str, ...] = ("champion",) if version == "champion" else ("champion", "canary")
        self.poll_s = poll_s
        self.retry_failed_s = retry_failed_s
        self.champion: LoadedModel | None = None
        self.canary: LoadedModel | None = None
        #: the canary's ``canary_deploy`` record (None: no canary)
        self.plan: CanaryPlan | None = None
        self.errors: dict[str, str] = {}  # alias -> last load error
        self._failed: dict[str, tuple[str, float]] = {}  # alias -> (version, when)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_poll = 0.0

    @property
    def ready(self) -> bool:
        return self.champion is not None

    def start(self) -> None:
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"alias-watch-{self.model}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.refresh()

    def refresh(self) -> None:
        """Read the alias pointers once and load whatever changed."""
        plan: CanaryPlan | None = None
        try:
            if self.pinned:
                wanted: dict[str, str | None] = {"champion": self.pinned, "canary": None}
            else:
                wanted = {a: self.registry.get_alias(self.model, a) for a in ("champion", "canary")}
                canary = wanted["canary"]
                if canary is not None:
                    plan = CanaryPlan.from_record(
                        self.registry.get(self.model, canary).records.get("canary_deploy")
                    )
                    if "canary" not in self.follow and plan.strategy != "shadow":
                        wanted["canary"], plan = None, None  # its own pods answer its traffic
        except DriftloopError as exc:
            log.warning("reading the aliases of %s failed: %s", self.model, exc)
            return
        self.last_poll = time.time()
        if plan != self.plan:
            log.info("%s: canary plan %s", self.model, plan)
        for alias, version in wanted.items():
            self._sync(alias, version)
        self.plan = plan if self.canary is not None else None

    def _sync(self, alias: str, version: str | None) -> None:
        current: LoadedModel | None = getattr(self, alias)
        if version is None:
            if current is not None and alias == "canary":
                log.info("%s: canary %s retired", self.model, current.version)
                self.canary = None
            self.errors.pop(alias, None)
            return
        if current is not None and current.version == version:
            return
        if alias == "champion" and self.canary is not None and self.canary.version == version:
            self.champion = self.canary  # a promoted canary: already loaded and verified
            log.info("%s: serving %s as champion (promoted canary)", self.model, version)
            return
        failed = self._failed.get(alias)
        if failed and failed[0] == version and time.monotonic() - failed[1] < self.retry_failed_s:
            return
        loaded = self._load(alias, version)
        if loaded is not None:
            setattr(self, alias, loaded)  # the swap: one attribute assignment
            log.info("%s: serving %s as %s", self.model, version, alias)

    def _load(self, alias: str, version: str) -> LoadedModel | None:
        started = time.perf_counter()
        try:
            # a model whose class or preprocess lives in the user's module needs its code_dir to unpickle
            from driftloop.usercode import ensure_code_path

            ensure_code_path(self.registry.store.settings.models.get(self.model))
            mv, estimator = self.registry.load_model(self.model, version)
        except IntegrityError as exc:
            return self._refuse(alias, version, "integrity_error", exc)
        except DriftloopError as exc:
            return self._refuse(alias, version, "error", exc)
        except Exception as exc:  # unpickling arbitrary model files can raise anything
            return self._refuse(alias, version, "error", exc)
        self.metrics.reloads.labels(self.model, alias, "ok").inc()
        self.errors.pop(alias, None)
        self._failed.pop(alias, None)
        log.debug("%s %s loaded in %.3fs", self.model, version, time.perf_counter() - started)
        return LoadedModel(self.model, mv.version, estimator, mv.sha256)

    def _refuse(self, alias: str, version: str, outcome: str, exc: Exception) -> LoadedModel | None:
        message = f"refused to load {self.model} {version} as {alias}: {exc}"
        if self.errors.get(alias) != message:
            log.error("%s", message)
        self.errors[alias] = message
        self._failed[alias] = (version, time.monotonic())
        self.metrics.reloads.labels(self.model, alias, outcome).inc()
        return None  # nothing loaded: the caller keeps what it has
