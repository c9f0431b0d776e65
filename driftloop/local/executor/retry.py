"""``retryStrategy``: which failures are retried, how often and after which delay.

Argo's semantics (https://argo-workflows.readthedocs.io/en/latest/retries/ and ``processNodeRetries`` in
``workflow/controller/operator.go``): ``limit`` is the number of *retries* (so ``limit: 2`` allows 3
attempts) and no ``limit`` means no limit (``retryStrategy: {}`` retries until it succeeds);
``retryPolicy`` defaults to ``OnFailure``, or ``Always`` when an ``expression`` decides; the backoff
before retry *n* (0-based) is ``duration * factor**n``, capped by ``cap``, and no retry starts once
``maxDuration`` has passed since the first attempt. The ``expression`` sees Argo's variables as strings
(``lastRetry.exitCode`` is ``"1"``, not ``1``) and the template's inputs already substituted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.gosemantics import GoRegexpError, regexp
from driftloop.local.executor import expr
from driftloop.local.executor.result import NodeResult

__all__ = ["RetryPolicy", "is_transient", "parse_duration"]

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
        """``None`` only when there is no ``retryStrategy``: ``{}`` retries failures without limit."""
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise WorkflowError(f"{field}: expected a map, got {spec!r}", "write retryStrategy as a map")
        unknown = set(spec) - {"limit", "retryPolicy", "backoff", "expression", "affinity"}
        if unknown:
            raise WorkflowError(
                f"{field}.{sorted(unknown)[0]} is not supported by the local executor",
                "remove it or run the workflow on Argo",
            )
        expression = str(spec["expression"]) if spec.get("expression") else None
        # Argo's RetryPolicyActual: OnFailure, or Always when an expression decides
        policy = str(spec.get("retryPolicy") or ("Always" if expression else "OnFailure"))
        if policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
            raise WorkflowError(
                f"{field}.retryPolicy: unknown policy {policy!r}",
                "use Always, OnFailure, OnError or OnTransientError",
            )
        backoff = spec.get("backoff") or {}
        if backoff and "duration" not in backoff:  # Argo: "no base duration specified for retryStrategy"
            raise WorkflowError(
                f"{field}.backoff.duration is missing", "set the base delay, e.g. duration: 5s"
            )
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
            expression=expression,
        )

    def decide(self, retries_done: int, last: NodeResult, elapsed: float) -> tuple[bool, str | None]:
        """After attempt ``retries_done`` (0-based) ended as ``last``, ``elapsed`` seconds after the first
        started: whether to start another, and the Retry node's message when not (None: the attempt's).

        The order of the checks and the messages are Argo's ``processNodeRetries`` (operator.go).
        """
        if last.phase == "Succeeded":
            return False, None
        if self.max_duration is not None:
            if elapsed > self.max_duration:
                return False, "Max duration limit exceeded"
            if elapsed + self.delay(retries_done) > self.max_duration:
                return False, "Backoff would exceed max duration limit"
        if not self._policy_retries(last):
            return False, None
        if self.limit is not None and retries_done >= self.limit:
            return False, "No more retries left"
        if self.expression:
            verdict = expr.evaluate(self.expression, _last_retry(retries_done, last))
            if not isinstance(verdict, bool):  # as Argo's EvalBool
                raise WorkflowError(
                    f"retryStrategy.expression {self.expression!r} gave {verdict!r}, not true or false",
                    "write a condition, e.g. lastRetry.status == 'Failed'",
                )
            if not verdict:
                return False, "retryStrategy.expression evaluated to false"
        return True, None

    def _policy_retries(self, last: NodeResult) -> bool:
        if last.phase not in ("Failed", "Error"):
            return False
        if self.policy == "OnFailure":
            return last.phase == "Failed"
        if self.policy == "OnError":
            return last.phase == "Error"
        if self.policy == "OnTransientError":
            return is_transient(last)
        return True  # Always

    def delay(self, retries_done: int) -> float:
        """Seconds to wait before retry number ``retries_done`` (0-based). As Argo, there is no wait
        without a ``limit`` (processNodeRetries only waits while ``limit`` allows more retries)."""
        if self.limit is None:
            return 0.0
        wait = self.duration * (self.factor**retries_done)
        if self.cap is not None:
            wait = min(wait, self.cap)
        return wait


def _last_retry(retries_done: int, last: NodeResult) -> dict[str, Any]:
    """The expression's variables, strings as Argo's buildRetryStrategyLocalScope makes them."""
    # Argo's node times are whole seconds (metav1.Time), so the duration is a whole number of seconds:
    # `asInt(lastRetry.duration) < 120` must parse
    duration = int(max(0.0, (last.finished or 0.0) - (last.started or 0.0)))
    return {
        "retries": str(retries_done),
        "lastRetry.exitCode": str(last.exit_code) if last.exit_code is not None else "-1",
        "lastRetry.status": last.phase,
        "lastRetry.duration": str(duration),
        "lastRetry.message": last.message,
    }


#: ``strerror`` of a process that could not start for want of resources (fork/exec), not of a bad command
_RESOURCE_SHORTAGE = re.compile(
    r"Resource temporarily unavailable|Cannot allocate memory|Too many open files|Text file busy"
)


def is_transient(node: NodeResult) -> bool:
    """Whether a failed attempt failed for a transient reason (``retryPolicy: OnTransientError``).

    Argo retries errors of the cluster, not of the program (``util/errors.IsTransientErr``: API-server
    timeouts, quota conflicts, network resets; plus ``TRANSIENT_ERROR_PATTERN``). On one machine that is:
    the process could not be started for want of resources (EAGAIN, ENOMEM, EMFILE, ETXTBSY), as a pod
    that cannot be created for a quota. A non-zero exit — also a process killed by a signal, which Argo
    sees as ``Error (exit code 137)`` — a missing command and a timeout are not transient.
    ``TRANSIENT_ERROR_PATTERN`` (a regular expression on the node's message) adds to this, as on Argo.
    """
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN")
    if pattern:
        try:
            if regexp(pattern).search(node.message):
                return True
        except GoRegexpError:  # Argo ignores regexp.MatchString's error: no match
            pass
    return (
        node.phase == "Error"
        and node.message.startswith("cannot start")
        and bool(_RESOURCE_SHORTAGE.search(node.message))
    )
