"""The model server as one component: HTTP server + one alias watcher per model + the inference log.

``ModelServer`` is what ``driftloop serve`` runs and what ``driftloop up`` starts (a runtime component:
``start`` / ``stop`` / ``healthy``). With ``models=None`` it serves every model in the registry and
picks up models registered later (checked every ``discover_s``) — local mode, where models appear
after the stack is up.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DriftloopError, UsageError
from driftloop.registry import Registry, check_model_name
from driftloop.serving.handler import READ_TIMEOUT_S, ServingHTTPServer
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.service import PredictionService
from driftloop.serving.sink import InferenceLog
from driftloop.serving.slots import ModelSlots

__all__ = ["ModelServer"]

log = logging.getLogger("driftloop.serving")


class ModelServer:
    """Serve ``model`` (a name, a list, or None = every model in the registry).

    ``version`` (one model only): None = champion and canary by ``serving.canary_fraction``;
    ``"champion"`` = the champion only (a Kubernetes stable pod); ``"v3"`` = that version (a canary pod).
    """

    def __init__(
        self,
        settings: Settings,
        model: str | list[str] | None,
        *,
        registry: Registry | None = None,
        version: str | None = None,
        host: str | None = None,
        port: int | None = None,
        poll_s: float = 1.0,
        discover_s: float = 5.0,
        watch_outcomes: bool = True,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        names = [model] if isinstance(model, str) else model
        self.fixed = [check_model_name(m) for m in names] if names is not None else None
        if version and (self.fixed is None or len(self.fixed) != 1):
            raise UsageError("a version can be pinned only when serving one model", "pass --model too")
        self.version = version
        self.name = "server"
        if registry is None:
            from driftloop.s3 import S3Store

            registry = Registry(S3Store(settings))
        self.registry = registry
        self.poll_s = poll_s
        self.discover_s = discover_s
        #: a connection that sends nothing for this long is dropped (see driftloop.serving.handler)
        self.read_timeout_s = read_timeout_s
        self.metrics = ServingMetrics()
        self.sink = InferenceLog(settings, self.metrics)
        self._services: dict[str, PredictionService] = {}
        self._address = (host or settings.serving.host, settings.serving.port if port is None else port)
        self._http: ServingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        #: retrain outcomes and canary verdicts on /metrics (see driftloop.outcomes)
        self.watch_outcomes = watch_outcomes
        self._outcomes: Any = None

    # --- models -----------------------------------------------------------------------------------
    def services(self) -> dict[str, PredictionService]:
        return self._services

    def service(self, model: str) -> PredictionService:
        return self._services[model]

    def _add(self, model: str) -> None:
        slots = ModelSlots(self.registry, model, self.metrics, version=self.version, poll_s=self.poll_s)
        slots.start()
        svc = PredictionService(self.settings, slots, self.sink, self.metrics)
        self._services = {**self._services, model: svc}  # copy-on-write: requests read without a lock

    def _discover(self) -> None:
        try:
            names = self.registry.models()
        except DriftloopError as exc:
            log.warning("listing the registry's models failed: %s", exc)
            return
        for name in names:
            if name not in self._services:
                self._add(name)

    def _discover_loop(self) -> None:
        while not self._stop.wait(self.discover_s):
            self._discover()

    # --- component --------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._http.server_address[1] if self._http else self._address[1]

    @property
    def url(self) -> str:
        host = self._address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def start(self) -> None:
        if not os.environ.get("OMP_NUM_THREADS"):
            # A predict call on a few rows gains nothing from OpenMP threads, and under load their
            # barriers cost more than the prediction (see workflows.steps.context.pin_native_threads).
            # The variable counts for runtimes loaded later (models are unpickled after this).
            os.environ["OMP_NUM_THREADS"] = "1"
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)
        self._stop.clear()
        self._http = ServingHTTPServer(self._address, self.services, self.metrics, self.read_timeout_s)
        self.sink.start()
        if self.fixed is not None:
            for name in self.fixed:
                self._add(name)
        else:
            self._discover()
            self._spawn(self._discover_loop, "model-discovery")
        self._spawn(self._http.serve_forever, "http")
        if self.watch_outcomes:
            from driftloop.outcomes import OutcomeWatcher

            self._outcomes = OutcomeWatcher(self.settings, self.metrics.registry)
            self._outcomes.start()
        loaded = {m: s.slots.champion and s.slots.champion.version for m, s in self._services.items()}
        log.info("model server at %s; champions: %s", self.url, loaded or "none yet")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=f"serving-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._outcomes is not None:
            self._outcomes.stop()
            self._outcomes = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(5)
        for svc in self._services.values():
            svc.slots.stop()
        self.sink.stop()
        self._http = None
        self._threads = []

    def healthy(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
