"""Admission: the policies of :mod:`sensors.policies` applied to one run, with their storage.

:class:`Gate` is used by the local sensor before it makes a submission durable. :func:`admit` is the
retrain workflow's first step on a cluster (Argo Events' Sensor cannot run these policies): it returns
``"admitted"`` or raises :class:`~driftloop.errors.WorkflowError` naming the policy, so the run stops
before any work. A run the local sensor already admitted (its ledger entry names the same Workflow) is
admitted again without re-applying cooldown or storm rules — it *is* the admitted run. :func:`release`
belongs in the workflow's exit handler: it frees the model's concurrency slot.
"""

from __future__ import annotations

import logging
from typing import Any

from driftloop.contracts import run_name
from driftloop.errors import WorkflowError
from driftloop.liveness import run_liveness
from sensors.policies import (
    Liveness,
    ModelState,
    PolicyConfig,
    PolicyStore,
    Verdict,
    decide,
    now,
    pending_total,
    reclaim,
    record,
)

__all__ = ["Gate", "admit", "local_liveness", "release"]

log = logging.getLogger("driftloop.sensor")


class Gate:
    """The policies with their storage. ``alive`` tells whether a run holding a slot still runs (local
    mode: the executor's run records); slots of runs that are gone are reclaimed before each decision."""

    def __init__(self, store: PolicyStore, config: PolicyConfig, alive: Liveness | None = None) -> None:
        self.store = store
        self.config = config
        self.alive = alive

    def evaluate(
        self, model: str, event_id: str, run: str, *, at: float | None = None, claimed_by: str = "sensor"
    ) -> Verdict:
        """Decide, claim the ledger on admission, and persist the model's state."""
        t = now() if at is None else at
        with self.store.lock(model):
            state: ModelState = self.store.load_state(model)
            gone = reclaim(state, t, self.alive)
            for dead in gone:
                log.warning(
                    "%s: reclaimed the concurrency slot of %s (lease expired or run gone)", model, dead
                )
            verdict = decide(state, event_id, t, self.config, pending_total(self.store))
            if verdict.admitted and event_id:
                entry = {
                    "event_id": event_id,
                    "model": model,
                    "workflow": run,
                    "claimed_by": claimed_by,
                    "at": t,
                }
                if not self.store.claim(event_id, entry):
                    verdict = Verdict("duplicate", f"ledger entry for event {event_id} exists")
            record(state, verdict, event_id, run, t, self.config.lease_s(model))
            if verdict.admitted or verdict.alert or gone:
                self.store.save_state(state)
            return verdict

    def release(self, model: str, run: str) -> None:
        with self.store.lock(model):
            state = self.store.load_state(model)
            if run in state.active:
                state.active.remove(run)
                state.leases.pop(run, None)
                self.store.save_state(state)

    def is_active(self, model: str, run: str) -> bool:
        return run in self.store.load_state(model).active


def _gate(settings: Any | None) -> Gate:
    from driftloop.config import load_settings
    from driftloop.s3 import S3Store
    from sensors.policies import S3PolicyStore

    settings = settings or load_settings()
    return Gate(
        S3PolicyStore(S3Store(settings)), PolicyConfig.from_settings(settings), local_liveness(settings)
    )


def local_liveness(settings: Any) -> Liveness:
    """Whether a run still runs, from the local executor's records under ``data_dir`` (None when the run
    has no record here — e.g. on a cluster, where only the lease's expiry frees a slot)."""
    return run_liveness(settings.data_dir)


def admit(
    model: str,
    event_id: str,
    reason: str,
    run: str = "",
    run_uid: str = "",
    settings: Any | None = None,
) -> str:
    """The retrain workflow's admission step. Returns ``"admitted"``; raises WorkflowError otherwise.

    Args:
        model: the model to retrain.
        event_id: the drift event id (``""`` for manual / scheduled runs: no ledger).
        reason: ``drift`` | ``schedule`` | ``manual``; manual runs skip cooldown and the storm breaker.
        run: this Workflow's name (``{{workflow.name}}``); defaults to the contract name for the event.
        run_uid: this Workflow's uid (``{{workflow.uid}}``): a second Workflow with the same name (after
            the first was garbage-collected) is not admitted twice.
        settings: resolved settings (default: ``load_settings()`` from the step's environment).
    """
    gate = _gate(settings)
    run = run or (run_name(model, event_id) if event_id else "")
    if event_id:
        entry = gate.store.ledger_entry(event_id)
        if entry is not None:
            if entry.get("workflow") == run and entry.get("run_uid", "") in ("", run_uid):
                if run_uid and not entry.get("run_uid"):
                    gate.store.put_ledger_entry(event_id, {**entry, "run_uid": run_uid})
                return "admitted"
            raise WorkflowError(
                f"event {event_id} already started {entry.get('workflow')}", "nothing to do: duplicate event"
            )
    config = gate.config
    if reason == "manual":
        gate.config = PolicyConfig(0.0, config.concurrency_policy, config.max_pending, 10**9)
    verdict = gate.evaluate(model, event_id, run, claimed_by="admission")
    if verdict.admitted:
        if event_id and run_uid:
            entry = gate.store.ledger_entry(event_id) or {}
            gate.store.put_ledger_entry(event_id, {**entry, "run_uid": run_uid})
        return "admitted"
    if verdict.alert:
        _alert(model, verdict, settings)
    raise WorkflowError(
        f"{model}: not admitted ({verdict.outcome}): {verdict.reason}", "see the sensor policies"
    )


def _alert(model: str, verdict: Verdict, settings: Any | None) -> None:
    from driftloop.config import load_settings
    from driftloop.kafka import Publisher
    from sensors.alerts import storm_alert

    settings = settings or load_settings()
    try:
        with Publisher(settings) as pub:
            pub.publish(settings.topics.outcomes, storm_alert(model, verdict.reason), key=model, wait=True)
    except Exception as exc:  # an alert must never fail the admission decision itself
        log.warning("could not publish the storm alert for %s: %s", model, exc)


def release(model: str, run: str, settings: Any | None = None) -> None:
    """Free ``model``'s concurrency slot held by ``run`` (the workflow's exit handler)."""
    _gate(settings).release(model, run)
