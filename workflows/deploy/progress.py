"""What a canary analysis tells the person waiting for it, while it waits.

A canary window lasts minutes. :class:`Narrator` is :func:`workflows.deploy.analysis.watch`'s ``on_look``:
before the first look (:meth:`Narrator.start`) it says why no traffic may come (``problem()``, e.g. the
local target finds no model server), after ``quiet_s`` without a single request it says so, and every
``every_s`` it logs one progress line — requests and labels per side, time left, the rule that will
decide. The lines go to the ``driftloop.progress`` logger, which ``driftloop retrain`` follows in the
step's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from workflows.deploy.canary_limits import CanaryLimits
from workflows.deploy.canary_stats import VariantStats

__all__ = ["PROGRESS_LOGGER", "Narrator", "what_to_do"]

#: The logger whose lines ``driftloop retrain`` shows while a step runs.
PROGRESS_LOGGER = "driftloop.progress"
log = logging.getLogger(PROGRESS_LOGGER)


def what_to_do(model: str) -> str:
    return (
        f"send it traffic (`driftloop up` runs a model server; `driftloop serve` is one on its own), or "
        f"decide by hand: `driftloop approve {model}` / `driftloop reject {model}`"
    )


def _left(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class Narrator:
    """Progress lines for one analysis window of ``model``'s canary ``version``."""

    def __init__(
        self,
        model: str,
        version: str,
        limits: CanaryLimits,
        *,
        problem: Callable[[], str | None] | None = None,
        every_s: float = 10.0,
        quiet_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] = log.info,
    ) -> None:
        self.model, self.version, self.limits = model, version, limits
        self.problem, self.every_s, self.quiet_s = problem, every_s, quiet_s
        self.clock, self.emit = clock, emit
        self._start: float | None = None
        self._last: float | None = None
        self._warned = False

    def start(self) -> None:
        """Before the first look: say at once what keeps traffic away, if the target knows."""
        self._start = self.clock()
        found = self.problem() if self.problem is not None else None
        if found:
            self._warned = True
            self.emit(f"{found}: the canary {self.version} gets no traffic — {what_to_do(self.model)}")

    def __call__(self, champion: VariantStats, canary: VariantStats, left_s: float, extended: bool) -> None:
        if self._start is None:
            self.start()
        assert self._start is not None
        now = self.clock()
        nothing = champion.requests == 0 and canary.requests == 0
        if nothing and not self._warned and now - self._start >= self.quiet_s:
            self._warned = True
            self.emit(
                f"no request has reached {self.model} in {now - self._start:.0f} s: the canary is judged "
                f"only on live traffic — {what_to_do(self.model)}"
            )
        if self._last is None or now - self._last >= self.every_s:
            first = self._last is None
            self._last = now
            self.emit(
                self._line(champion, canary, left_s, extended) + (f" — {self._rule()}" if first else "")
            )

    def _line(self, champion: VariantStats, canary: VariantStats, left_s: float, extended: bool) -> str:
        window = "extension" if extended else "window"
        return (
            f"canary {self.model} {self.version}: {canary.requests} requests (champion {champion.requests}), "
            f"labels {canary.labeled} / {champion.labeled}; {_left(left_s)} left in the {window}"
        )

    def _rule(self) -> str:
        lim = self.limits
        if lim.rule == "sequential":
            return (
                "the sequential rule rolls back as soon as harm shows and promotes early once the canary is "
                f"shown not worse; at the deadline it promotes with ≥ {lim.min_requests} canary requests "
                "and no harm, and with no traffic at all it rolls back"
            )
        return f"the fixed rule decides at the deadline with ≥ {lim.min_requests} canary requests"
