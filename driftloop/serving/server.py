"""The model server as one component: the ASGI app on uvicorn + one alias watcher per model + the
inference log + the shadow runner.

``ModelServer`` is what ``driftloop serve`` runs and what ``driftloop up`` starts (a runtime component:
``start`` / ``stop`` / ``healthy``). With ``models=None`` it serves every model in the registry and
picks up models registered later (checked every ``discover_s``) — local mode, where models appear
after the stack is up.

uvicorn runs in a thread of its own with its own event loop, on two sockets bound in :meth:`start` (so a
port in use is a one-line error there, and ``port=0`` is known at once): ``serving.port`` for predict and
``serving.feedback_port`` for ``POST /v1/feedback`` alone (:mod:`driftloop.serving.ports`). Limits:

* per connection (:mod:`driftloop.serving.guard`, a subclass of uvicorn's httptools protocol:
  ``uvicorn[standard]`` is a dependency): a whole request within ``read_timeout_s``, headers within
  :data:`MAX_HEAD` bytes, ``serving.max_connections_per_client`` connections per client address, and
  ``serving.max_concurrency`` connections + requests in progress (beyond it a 503) — health probes are
  answered whatever the load;
* per request (the app; :mod:`driftloop.serving.body`): ``serving.max_body_bytes``, and a body parsed in
  a worker thread only if it holds at most ``serving.max_json_values`` JSON values nested at most
  ``serving.max_json_depth`` deep; all bodies held at once: ``serving.max_body_bytes_in_flight``.

:meth:`stop` is graceful: no new connections, requests in progress finish (up to ``grace_s``), the
shadow runner scores what it has queued, and the inference log publishes every queued record to Kafka
before the publisher closes.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DriftloopError, UsageError
from driftloop.registry import Registry, check_model_name
from driftloop.serving.app import BodyLimits, build_app
from driftloop.serving.guard import MAX_HEAD, guarded_protocol
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.ports import split_ports
from driftloop.serving.service import PredictionService, log_records
from driftloop.serving.shadow import ShadowRunner
from driftloop.serving.sink import InferenceLog
from driftloop.serving.slots import ModelSlots

__all__ = ["MAX_HEAD", "READ_TIMEOUT_S", "ModelServer"]

log = logging.getLogger("driftloop.serving")

#: Seconds a client has to send a whole request (and the longest a keep-alive connection may idle).
READ_TIMEOUT_S = 10.0


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
        feedback_port: int | None = None,
        poll_s: float = 1.0,
        discover_s: float = 5.0,
        watch_outcomes: bool = True,
        read_timeout_s: float = READ_TIMEOUT_S,
        max_body: int | None = None,
        grace_s: float = 10.0,
        predict_threads: int = 4,
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
        #: a client that does not send a whole request in this long is dropped
        self.read_timeout_s = read_timeout_s
        serving = settings.serving
        #: what one request body may be (size, JSON values, nesting): see driftloop.serving.app
        self.limits = BodyLimits(
            max_body if max_body is not None else serving.max_body_bytes,
            serving.max_json_values,
            serving.max_json_depth,
        )
        self.grace_s = grace_s
        #: worker threads that run predictions (the event loop only parses and answers)
        self.predict_threads = predict_threads
        self.metrics = ServingMetrics()
        self.sink = InferenceLog(settings, self.metrics)
        self.shadow = ShadowRunner(self.metrics, functools.partial(log_records, self.sink))
        self._services: dict[str, PredictionService] = {}
        self._address = (host or settings.serving.host, settings.serving.port if port is None else port)
        if feedback_port is None:  # any free port for predict: any free port for feedback too
            feedback_port = 0 if self._address[1] == 0 else settings.serving.feedback_port
        self._feedback_port = feedback_port
        if self._feedback_port and self._feedback_port == self._address[1]:
            raise UsageError(
                f"the predict and feedback ports are both {self._feedback_port}",
                "give feedback a port of its own (--feedback-port, serving.feedback_port)",
            )
        self._socket: socket.socket | None = None
        self._feedback_socket: socket.socket | None = None
        self._uvicorn: Any = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._draining = threading.Event()  # set by drain(): /readyz answers 503, requests still served
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
        svc = PredictionService(self.settings, slots, self.sink, self.metrics, self.shadow)
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
        return int(self._socket.getsockname()[1]) if self._socket else self._address[1]

    @property
    def feedback_port(self) -> int:
        sock = self._feedback_socket
        return int(sock.getsockname()[1]) if sock else self._feedback_port

    @property
    def url(self) -> str:
        """Where to predict (and read metadata, health, metrics)."""
        return self._url(self.port)

    @property
    def feedback_url(self) -> str:
        """Where to ``POST /v1/feedback`` (nothing else is served there but the health probes)."""
        return self._url(self.feedback_port)

    def _url(self, port: int) -> str:
        host = self._address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    def start(self) -> None:
        if not os.environ.get("OMP_NUM_THREADS"):
            # A predict call on a few rows gains nothing from OpenMP threads, and under load their
            # barriers cost more than the prediction (see workflows.steps.context.pin_native_threads).
            # The variable counts for runtimes loaded later (models are unpickled after this).
            os.environ["OMP_NUM_THREADS"] = "1"
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)
        self._stop.clear()
        self._socket = self._bind(self._address[1], "--port (or serving.port)")
        try:
            self._feedback_socket = self._bind(
                self._feedback_port, "--feedback-port (or serving.feedback_port)"
            )
        except UsageError:
            self._socket.close()
            self._socket = None
            raise
        self.sink.start()
        self.shadow.start()
        if self.fixed is not None:
            for name in self.fixed:
                self._add(name)
        else:
            self._discover()
            self._spawn(self._discover_loop, "model-discovery")
        self._serve_http()
        if self.watch_outcomes:
            from driftloop.outcomes import OutcomeWatcher

            self._outcomes = OutcomeWatcher(self.settings, self.metrics.registry)
            self._outcomes.start()
        loaded = {m: s.slots.champion and s.slots.champion.version for m, s in self._services.items()}
        log.info(
            "model server at %s (feedback at %s); champions: %s",
            self.url,
            self.feedback_url,
            loaded or "none yet",
        )

    def _bind(self, port: int, option: str) -> socket.socket:
        host = self._address[0]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise UsageError(
                f"the model server cannot listen on {host}:{port}: {exc.strerror or exc}",
                f"pick another {option}, or stop what listens there",
            ) from None
        sock.set_inheritable(True)
        return sock

    def _serve_http(self) -> None:
        import uvicorn

        serving = self.settings.serving

        app = build_app(
            self.services,
            self.metrics,
            auth_token=self.settings.serving.auth_token.get_secret_value(),
            limits=self.limits,
            bodies_in_flight=serving.max_body_bytes_in_flight,
            predict_threads=self.predict_threads,
            draining=self._draining.is_set,
        )
        config = uvicorn.Config(
            split_ports(app, predict_port=self.port, feedback_port=self.feedback_port),
            http=guarded_protocol(
                self.read_timeout_s, self.settings.serving.max_concurrency, serving.max_connections_per_client
            ),
            loop="auto",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            limit_concurrency=None,  # the guard's own limit: it lets the health probes through
            timeout_keep_alive=max(1, round(self.read_timeout_s)),
            timeout_graceful_shutdown=max(1, round(self.grace_s)),
            backlog=256,
        )
        server = uvicorn.Server(config)
        self._uvicorn = server
        assert self._socket is not None and self._feedback_socket is not None
        self._spawn(functools.partial(server.run, sockets=[self._socket, self._feedback_socket]), "http")
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline and self._threads[-1].is_alive():
            time.sleep(0.01)
        if not server.started:
            raise DriftloopError("the model server's HTTP loop did not start", "see the server log")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=f"serving-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def drain(self, seconds: float) -> None:
        """Before :meth:`stop` on a SIGTERM: report not-ready and keep serving for ``seconds``. Kubernetes
        removes a terminating pod from its Service's endpoints asynchronously; a server that closed its
        listener at once refused the connections kube-proxy still sent it (on a real cluster the
        promote's rolling update of the stable Deployment cost the traffic 6 'Connection refused')."""
        self._draining.set()
        if seconds > 0:
            time.sleep(seconds)

    def stop(self) -> None:
        """Graceful: stop accepting, finish requests in progress, score queued mirrors, publish the log."""
        self._stop.set()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True  # uvicorn: close listeners, drain connections (grace_s)
        if self._outcomes is not None:
            self._outcomes.stop()
            self._outcomes = None
        for thread in self._threads:
            thread.join(self.grace_s + 5)
        for svc in self._services.values():
            svc.slots.stop()
        self.shadow.stop(self.grace_s)
        self.sink.stop()
        self._uvicorn = None
        self._socket = None
        self._feedback_socket = None
        self._threads = []

    def open_connections(self) -> int:
        """Client connections open now (uvicorn's count, which its concurrency limit uses)."""
        return len(self._uvicorn.server_state.connections) if self._uvicorn is not None else 0

    def healthy(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
