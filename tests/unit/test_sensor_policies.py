"""Admission policies: pure rules and the Gate over an in-memory store."""

from __future__ import annotations

from sensors.admission import Gate
from sensors.policies import MemoryPolicyStore, ModelState, PolicyConfig, decide


def gate(**cfg: object) -> Gate:
    base = {"cooldown_s": 0.0, "concurrency_policy": "queue", "max_pending": 100, "storm_max_per_hour": 100}
    return Gate(MemoryPolicyStore(), PolicyConfig(**{**base, **cfg}))  # type: ignore[arg-type]


def test_event_id_never_admitted_twice() -> None:
    g = gate()
    assert g.evaluate("m", "e1", "r1", at=0).outcome == "admit"
    assert g.evaluate("m", "e1", "r1", at=10_000).outcome == "duplicate"
    # even when the in-state memory is gone (a restart), the ledger says no
    g.store.states.clear()  # type: ignore[attr-defined]
    assert g.evaluate("m", "e1", "r1", at=20_000).outcome == "duplicate"


def test_cooldown_drops_and_records() -> None:
    g = gate(cooldown_s=600)
    assert g.evaluate("m", "e1", "r1", at=0).admitted
    v = g.evaluate("m", "e2", "r2", at=100)
    assert v.outcome == "cooldown" and "cooldown" in v.reason
    assert g.store.load_state("m").rejected == {"cooldown": 1}
    assert g.evaluate("other", "e3", "r3", at=100).admitted  # per model
    g.release("m", "r1")
    assert g.evaluate("m", "e4", "r4", at=700).admitted


def test_a_run_without_an_event_starts_no_cooldown() -> None:
    """A manual or scheduled run takes the concurrency slot, but the next drift event need not wait."""
    g = gate(cooldown_s=600, concurrency_policy="skip", storm_max_per_hour=1)
    assert g.evaluate("m", "", "manual-1", at=0).admitted
    assert g.evaluate("m", "e1", "r1", at=10).outcome == "skip"  # the manual run is still active
    g.release("m", "manual-1")
    assert g.evaluate("m", "e1", "r1", at=20).admitted  # no cooldown, no storm count from the manual run
    g.release("m", "r1")
    assert g.evaluate("m", "e2", "r2", at=30).outcome == "cooldown"  # drift triggers still cool down


def test_concurrency_policies() -> None:
    skip = gate(concurrency_policy="skip")
    skip.evaluate("m", "e1", "r1", at=0)
    assert skip.evaluate("m", "e2", "r2", at=1).outcome == "skip"
    queue = gate(concurrency_policy="queue")
    queue.evaluate("m", "e1", "r1", at=0)
    assert queue.evaluate("m", "e2", "r2", at=1).outcome == "queue"
    assert queue.store.load_state("m").active == ["r1", "r2"]
    replace = gate(concurrency_policy="replace")
    replace.evaluate("m", "e1", "r1", at=0)
    v = replace.evaluate("m", "e2", "r2", at=1)
    assert v.outcome == "replace" and v.replaces == ("r1",)
    assert replace.store.load_state("m").active == ["r2"]


def test_backpressure_caps_pending_runs_over_all_models() -> None:
    g = gate(max_pending=2)
    assert g.evaluate("a", "e1", "r1", at=0).admitted
    assert g.evaluate("b", "e2", "r2", at=0).admitted
    assert g.evaluate("c", "e3", "r3", at=0).outcome == "backpressure"
    g.release("a", "r1")
    assert g.evaluate("c", "e3", "r3", at=1).admitted  # a dropped event is not in the ledger


def test_storm_breaker_alerts_once_per_hour() -> None:
    g = gate(storm_max_per_hour=3)
    for i in range(3):
        assert g.evaluate("m", f"e{i}", f"r{i}", at=i).admitted
        g.release("m", f"r{i}")
    first = g.evaluate("m", "e9", "r9", at=10)
    second = g.evaluate("m", "e10", "r10", at=20)
    assert first.outcome == second.outcome == "storm"
    assert first.alert and not second.alert
    assert g.evaluate("m", "e11", "r11", at=3700).admitted  # the hour has passed


def test_decide_is_pure() -> None:
    state = ModelState("m", admitted_at=[0.0], active=["r0"])
    before = state.to_dict()
    decide(state, "e", 1.0, PolicyConfig(cooldown_s=600), 0)
    assert state.to_dict() == before


def test_a_model_that_waits_for_approval_keeps_its_slot_for_the_whole_wait() -> None:
    """The run's deadline grows by approval_timeout_s, so its lease does too: a run waiting a day for a
    decision is not reclaimed after the plain retrain lease (and a second run is not started beside it)."""
    from driftloop.config import load_settings
    from driftloop.contracts import LEASE_S, lease_s

    spec = {"task": "classification", "target": "y", "trainer": "m:train", "approval": "required"}
    settings = load_settings(env={}, overrides={"models": {"gated": {**spec, "approval_timeout_s": 86_400}}})
    config = PolicyConfig.from_settings(settings)
    assert config.lease_s("gated") == lease_s(86_400) == LEASE_S + 86_400
    assert config.lease_s("other") == LEASE_S
    g = Gate(MemoryPolicyStore(), config)
    assert g.evaluate("gated", "e1", "r1", at=0).admitted
    assert g.evaluate("gated", "e2", "r2", at=LEASE_S + 60).outcome == "skip"  # r1 still holds the slot
    assert g.evaluate("gated", "e3", "r3", at=lease_s(86_400) + 60).admitted  # now it is reclaimed
