"""Local mode's supervisor: the embedded services plus the in-process components that run on them.

``driftloop up`` builds a :class:`Supervisor`, which starts the embedded Kafka and S3 (unless real ones
are configured), then each component (the monitor scheduler, the local sensor, the executor, the model
server — listed once in :data:`COMPONENTS` and imported only when ``up`` builds them), and stops everything,
components first, on Ctrl-C / SIGTERM or when a service dies.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from driftloop.config import Settings
from driftloop.errors import ServiceError
from driftloop.local.embedded import EmbeddedStack

__all__ = ["COMPONENTS", "Component", "Supervisor", "component_factories"]

log = logging.getLogger("driftloop.up")


class Component(Protocol):
    """A long-running part of local mode. ``start`` returns once it runs (in its own thread or
    process); ``stop`` returns once it has stopped; ``healthy`` is polled by the supervisor."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...


ComponentFactory = Callable[[Settings], Component]

#: The components ``driftloop up`` starts after the embedded services, in start order: name ->
#: ``module:callable`` taking the settings. One table instead of import side effects, so importing the CLI
#: never imports the executor, the local sensor or the model server.
COMPONENTS: dict[str, str] = {
    "server": "driftloop.serving:server_component",
    "sensor": "driftloop.local.sensor.service:LocalSensor",
    "scheduler": "driftloop.local.scheduler:scheduler_component",
}


def component_factories(names: list[str] | None = None) -> dict[str, ComponentFactory]:
    """The factories of :data:`COMPONENTS` (all, or the ``names`` given), imported now."""
    import importlib

    out: dict[str, ComponentFactory] = {}
    for name, target in COMPONENTS.items():
        if names is not None and name not in names:
            continue
        module, _, attr = target.partition(":")
        out[name] = getattr(importlib.import_module(module), attr)
    return out


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        components: list[Component] | None = None,
        stack: EmbeddedStack | None = None,
        factories: list[ComponentFactory] | None = None,
        before_components: Callable[[Settings], object] | None = None,
    ) -> None:
        self.settings = settings
        #: run once the services answer, before any component starts (``up``'s reconciliation)
        self.before_components = before_components
        self.stack = stack or EmbeddedStack(settings)
        self.components = components or []
        #: built only once the services answer, so a port in use is reported before anything else
        self.factories = factories or []
        self._stop = threading.Event()
        self._started: list[Component] = []

    def start(self) -> None:
        names = [s.name for s in self.stack.services]
        if names:
            log.info("starting embedded %s under %s", " and ".join(names), self.stack.data_dir)
        t0 = time.monotonic()
        self.stack.start()
        if not names:
            self.stack.wait_ready()
            self.stack.provision()
        log.info(
            "kafka %s and s3 %s ready in %.1fs",
            self.settings.bootstrap_servers,
            self.settings.s3_endpoint,
            time.monotonic() - t0,
        )
        try:
            if self.before_components is not None and self.factories:
                self.before_components(self.settings)
            self.components += [factory(self.settings) for factory in self.factories]
            self.factories = []
            for comp in self.components:
                comp.start()
                self._started.append(comp)
                log.info("component %s started", comp.name)
            self.stack.note(components=[c.name for c in self._started])
        except BaseException:
            self.stop()
            raise

    def _stop_runs(self) -> None:
        from driftloop.local.executor import cancel_all, wait_idle

        names = cancel_all()
        if not names:
            return
        log.info("cancelling %s: their exit handlers run before anything stops", ", ".join(sorted(names)))
        left = wait_idle(self.settings.embedded.runs_stop_timeout_s)
        if left:
            log.warning(
                "%s still running after %.0fs; stopping anyway",
                ", ".join(left),
                self.settings.embedded.runs_stop_timeout_s,
            )

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def wait(self, poll_s: float = 0.5) -> None:
        """Block until a stop is requested; raise ServiceError when a service or component dies."""
        while not self._stop.wait(poll_s):
            for name, alive in self.stack.alive().items():
                if not alive:
                    raise ServiceError(
                        f"embedded {name} exited unexpectedly", f"see {self.stack.data_dir}/logs/{name}.log"
                    )
            for comp in self._started:
                if not comp.healthy():
                    raise ServiceError(f"component {comp.name} failed", "see the log above")

    def stop(self) -> None:
        """Stop in dependency order: the runs this process runs (cancelled: their steps stop, their exit
        handlers run — on the services, which are still up), then the components, then the services."""
        from driftloop.local.executor import closing

        with closing():  # a run that would start now is cancelled at once
            self._stop_runs()
            for comp in reversed(self._started):
                with contextlib.suppress(Exception):
                    comp.stop()
                    log.info("component %s stopped", comp.name)
        self._started.clear()
        self.stack.stop()
        log.info("stopped")
