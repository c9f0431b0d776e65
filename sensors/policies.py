"""Admission policies Argo Events lacks: an idempotency ledger, cooldown, concurrency, back-pressure, and a
storm breaker — pure rule code (:func:`decide`) plus a storage interface (:class:`PolicyStore`).

The same code runs in the local sensor (before a submission is made durable) and, on a cluster, in the
retrain workflow's first step (:mod:`sensors.admission`). Order of the rules for one event of ``model``:

1. duplicate — the event id is in the model's recent admissions, or (authoritative) its ledger entry
   ``<prefix>/ledger/<sha256(event id)>.json`` exists. The entry is created with a conditional write
   (``IfNoneMatch='*'``; SeaweedFS and S3 answer 412 when it exists — tested in
   ``tests/integration/test_sensor_policies.py``), so two writers can never both claim an event, even
   across restarts and long after Argo Events' 5-minute in-memory dedup cache (argo-events#1765).
2. cooldown — the model triggered less than ``cooldown_s`` ago: dropped and recorded.
3. storm — ``storm_max_per_hour`` admissions in the last hour: dropped; the first drop of the hour
   asks for an alert event (``io.driftloop.sensor.alert``).
4. back-pressure — ``max_pending`` runs already queued or running (all models): dropped.
5. concurrency — a run of the model is active: ``skip`` drops; ``queue`` admits it to run after the
   active one; ``replace`` admits it and names the run(s) it supersedes.

Per-model state (recent admissions, running / queued runs) is one JSON object per model,
``<prefix>/state/<model>.json``, read-modify-written under a per-model lock: a process-local lock — one
local sensor owns the consumer group's partitions; on a cluster the ledger's conditional write is what
guarantees one run per event, the state is advisory.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from driftloop.contracts import LEASE_S, lease_s
from driftloop.errors import NotFound

__all__ = [
    "MemoryPolicyStore",
    "ModelState",
    "PolicyConfig",
    "PolicyStore",
    "S3PolicyStore",
    "Verdict",
    "decide",
    "ledger_key",
    "reclaim",
]

Outcome = Literal["admit", "queue", "replace", "duplicate", "cooldown", "storm", "backpressure", "skip"]
_HOUR = 3600.0
_RECENT = 256


@dataclass(frozen=True)
class PolicyConfig:
    cooldown_s: float = 600.0
    concurrency_policy: Literal["skip", "queue", "replace"] = "skip"
    max_pending: int = 20
    storm_max_per_hour: int = 6
    #: per model, how long an admitted run holds its slot (:func:`driftloop.contracts.lease_s`: longer
    #: for a model whose runs may wait for a manual approval); LEASE_S for the others
    leases: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any) -> PolicyConfig:
        s = settings.sensor
        leases = {
            name: float(lease_s(spec.approval_timeout_s if spec.approval == "required" else 0))
            for name, spec in (getattr(settings, "models", None) or {}).items()
        }
        return cls(s.cooldown_s, s.concurrency_policy, s.max_pending, s.storm_max_per_hour, leases)

    def lease_s(self, model: str) -> float:
        return self.leases.get(model, float(LEASE_S))


@dataclass
class ModelState:
    """What the policies remember about one model."""

    model: str
    admitted_at: list[float] = field(default_factory=list)  # admissions in the last hour
    recent_event_ids: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)  # runs queued or running, oldest first
    leases: dict[str, float] = field(default_factory=dict)  # run -> when its slot expires
    alerted_at: float | None = None
    rejected: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    replaces: tuple[str, ...] = ()
    alert: bool = False

    @property
    def admitted(self) -> bool:
        return self.outcome in ("admit", "queue", "replace")


def ledger_key(event_id: str) -> str:
    return hashlib.sha256(event_id.encode()).hexdigest()


def decide(state: ModelState, event_id: str, now: float, config: PolicyConfig, pending_total: int) -> Verdict:
    """The pure rules 1–5 above, except the ledger (the caller claims it after an admission)."""
    if event_id and event_id in state.recent_event_ids:
        return Verdict("duplicate", f"event {event_id} already started a run")
    last = max(state.admitted_at, default=None)
    if last is not None and now - last < config.cooldown_s:
        return Verdict(
            "cooldown", f"{state.model} triggered {now - last:.0f}s ago (cooldown {config.cooldown_s:.0f}s)"
        )
    hour = [t for t in state.admitted_at if now - t < _HOUR]
    if len(hour) >= config.storm_max_per_hour:
        alert = state.alerted_at is None or now - state.alerted_at >= _HOUR
        return Verdict("storm", f"{len(hour)} runs of {state.model} in the last hour", alert=alert)
    if pending_total >= config.max_pending:
        return Verdict("backpressure", f"{pending_total} runs pending (max {config.max_pending})")
    if state.active:
        if config.concurrency_policy == "skip":
            return Verdict("skip", f"{state.active[-1]} is still active")
        if config.concurrency_policy == "queue":
            return Verdict("queue", f"after {state.active[-1]}")
        return Verdict("replace", f"supersedes {', '.join(state.active)}", replaces=tuple(state.active))
    return Verdict("admit")


def record(
    state: ModelState, verdict: Verdict, event_id: str, run: str, now: float, lease: float = LEASE_S
) -> None:
    """Update ``state`` after a verdict (the caller persists it when it was an admission)."""
    if not verdict.admitted:
        state.rejected[verdict.outcome] = state.rejected.get(verdict.outcome, 0) + 1
        if verdict.alert:
            state.alerted_at = now
        return
    if event_id:
        # Cooldown and the storm breaker are about drift triggers: a manual or scheduled run (no event)
        # takes a concurrency slot below but does not make the next drift event wait.
        state.admitted_at = [t for t in state.admitted_at if now - t < _HOUR] + [now]
        state.recent_event_ids = [*state.recent_event_ids, event_id][-_RECENT:]
    if verdict.outcome == "replace":
        state.active = [r for r in state.active if r not in verdict.replaces]
        for r in verdict.replaces:
            state.leases.pop(r, None)
    state.active.append(run)
    state.leases[run] = now + lease


#: ``alive(run)``: True / False when known (e.g. the local executor's run record), None when not.
Liveness = Callable[[str], "bool | None"]


def reclaim(state: ModelState, now: float, alive: Liveness | None = None) -> list[str]:
    """Free the slots of runs that are gone: the lease expired (the run outlived the retrain deadline,
    so Argo stopped it) or ``alive`` knows the run is not running any more (finished, or its executor
    was killed before the exit handler could release the slot). Returns the reclaimed runs."""
    gone = []
    for run in state.active:
        expires = state.leases.get(run)
        if (expires is not None and expires <= now) or (alive is not None and alive(run) is False):
            gone.append(run)
    if gone:
        state.active = [r for r in state.active if r not in gone]
        for r in gone:
            state.leases.pop(r, None)
    return gone


class PolicyStore(Protocol):
    """Where the ledger and the per-model state live."""

    def claim(self, event_id: str, entry: dict[str, Any]) -> bool:
        """Create the ledger entry of ``event_id``; False when it already exists."""

    def ledger_entry(self, event_id: str) -> dict[str, Any] | None: ...

    def put_ledger_entry(self, event_id: str, entry: dict[str, Any]) -> None: ...

    def load_state(self, model: str) -> ModelState: ...

    def save_state(self, state: ModelState) -> None: ...

    def models(self) -> list[str]: ...

    def lock(self, model: str) -> Any: ...


class _Locks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def lock(self, model: str) -> Iterator[None]:
        with self._guard:
            lk = self._locks.setdefault(model, threading.Lock())
        with lk:
            yield


class MemoryPolicyStore(_Locks):
    """In-memory store for unit tests and `driftloop sensor test`."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger: dict[str, dict[str, Any]] = {}
        self.states: dict[str, ModelState] = {}

    def claim(self, event_id: str, entry: dict[str, Any]) -> bool:
        key = ledger_key(event_id)
        if key in self.ledger:
            return False
        self.ledger[key] = dict(entry)
        return True

    def ledger_entry(self, event_id: str) -> dict[str, Any] | None:
        return self.ledger.get(ledger_key(event_id))

    def put_ledger_entry(self, event_id: str, entry: dict[str, Any]) -> None:
        self.ledger[ledger_key(event_id)] = dict(entry)

    def load_state(self, model: str) -> ModelState:
        return self.states.setdefault(model, ModelState(model))

    def save_state(self, state: ModelState) -> None:
        self.states[state.model] = state

    def models(self) -> list[str]:
        return list(self.states)


class S3PolicyStore(_Locks):
    """The ledger and state on S3 (``driftloop.s3.S3Store``), cached per model in this process."""

    def __init__(self, store: Any, prefix: str = "sensor") -> None:
        super().__init__()
        self.store = store
        self.prefix = prefix.rstrip("/")
        self._states: dict[str, ModelState] = {}
        self._listed = False

    def _ledger(self, event_id: str) -> str:
        return f"{self.prefix}/ledger/{ledger_key(event_id)}.json"

    def claim(self, event_id: str, entry: dict[str, Any]) -> bool:
        """Record the event in the ledger unless it is there already (a conditional create)."""
        body = json.dumps(entry, sort_keys=True).encode()
        return bool(self.store.create(self._ledger(event_id), body, "application/json"))

    def ledger_entry(self, event_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = self.store.get_json(self._ledger(event_id))
        except NotFound:
            return None
        return data

    def put_ledger_entry(self, event_id: str, entry: dict[str, Any]) -> None:
        self.store.put_json(self._ledger(event_id), entry)

    def load_state(self, model: str) -> ModelState:
        cached = self._states.get(model)
        if cached is not None:
            return cached
        try:
            state = ModelState.from_dict(self.store.get_json(f"{self.prefix}/state/{model}.json"))
        except NotFound:
            state = ModelState(model)
        self._states[model] = state
        return state

    def save_state(self, state: ModelState) -> None:
        self._states[state.model] = state
        self.store.put_json(f"{self.prefix}/state/{state.model}.json", state.to_dict())

    def models(self) -> list[str]:
        """Models with a state object; S3 is listed once per process, later states are cached."""
        if not self._listed:
            keys = self.store.list(f"{self.prefix}/state/")
            for k in keys:
                self.load_state(k.rsplit("/", 1)[-1].removesuffix(".json"))
            self._listed = True
        return sorted(self._states)


def pending_total(store: PolicyStore) -> int:
    """Runs queued or running over every model the store knows."""
    return sum(len(store.load_state(m).active) for m in store.models())


def now() -> float:
    return time.time()
