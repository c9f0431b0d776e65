"""``retryStrategy``: which failures are retried, how often and after which delay.

Argo's semantics (https://argo-workflows.readthedocs.io/en/latest/retries/): ``limit`` is the number of
*retries* (so ``limit: 2`` allows 3 attempts); ``retryPolicy`` defaults to ``OnFailure``; the backoff
before retry *n* (0-based) is ``duration * factor**n``, capped by ``cap``, and no retry starts once
``maxDuration`` has passed since the first attempt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import expr

__all__ = ["RetryPolicy", "parse_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: Any, field: str) -> float:
    """Seconds from an Argo duration: a number of seconds (``"10"``) or a Go duration (``"1m30s"``)."""
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise WorkflowError(f"{field}: {text!r} is not a duration", 'write seconds ("30") or e.g. "2m", "1h"')
    return sum(float(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class RetryPolicy:
    """A parsed ``retryStrategy``."""

    limit: int | None
    policy: str = "OnFailure"
    duration: float = 0.0
    factor: float = 1.0
    cap: float | None = None
    max_duration: float | None = None
    expression: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None, field: str) -> RetryPolicy | None:
        if not spec:
            return None
        unknown = set(spec) - {"limit", "retryPolicy", "backoff", "expression", "affinity"}
        if unknown:
            raise WorkflowError(
                f"{field}.{sorted(unknown)[0]} is not supported by the local executor",
                "remove it or run the workflow on Argo",
            )
        policy = str(spec.get("retryPolicy") or "OnFailure")
        if policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
            raise WorkflowError(
                f"{field}.retryPolicy: unknown policy {policy!r}",
                "use Always, OnFailure, OnError or OnTransientError",
            )
        backoff = spec.get("backoff") or {}
        limit = spec.get("limit")
        try:
            limit_n = None if limit is None else int(str(limit))
        except ValueError:
            raise WorkflowError(f"{field}.limit: {limit!r} is not an integer", "set a whole number") from None
        return cls(
            limit=limit_n,
            policy=policy,
            duration=parse_duration(backoff.get("duration", 0), f"{field}.backoff.duration"),
            factor=float(str(backoff.get("factor", 1))),
            cap=parse_duration(backoff["cap"], f"{field}.backoff.cap") if "cap" in backoff else None,
            max_duration=(
                parse_duration(backoff["maxDuration"], f"{field}.backoff.maxDuration")
                if "maxDuration" in backoff
                else None
            ),
            expression=spec.get("expression"),
        )

    def should_retry(
        self,
        retries_done: int,
        phase: str,
        exit_code: int | None,
        message: str,
        elapsed: float,
        attempt_duration: float,
    ) -> bool:
        """Whether to start another attempt after one finished in ``phase``."""
        if phase == "Succeeded":
            return False
        if self.limit is not None and retries_done >= self.limit:
            return False
        if self.policy == "OnFailure" and phase != "Failed":
            return False
        if self.policy in ("OnError", "OnTransientError") and phase != "Error":
            return False
        if self.max_duration is not None and elapsed + self.delay(retries_done) > self.max_duration:
            return False
        if self.expression:
            variables = {
                "lastRetry.exitCode": float(exit_code) if exit_code is not None else -1.0,
                "lastRetry.status": phase,
                "lastRetry.duration": attempt_duration,
                "lastRetry.message": message,
            }
            return bool(expr.evaluate(self.expression, variables))
        return True

    def delay(self, retries_done: int) -> float:
        """Seconds to wait before retry number ``retries_done`` (0-based)."""
        wait = self.duration * (self.factor**retries_done)
        if self.cap is not None:
            wait = min(wait, self.cap)
        return wait
