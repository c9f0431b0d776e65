"""What `driftloop retrain` tells its user: the run's outcome and exit code, the canary window's progress,
the zero-traffic rule and a decision by hand during the window (pure functions: no services)."""

from __future__ import annotations

import socket

import pytest

from driftloop.endpoints import addresses, listening
from workflows.deploy.analysis import CanaryLimits, VariantStats, watch
from workflows.deploy.canary_rules import Assessment
from workflows.deploy.progress import Narrator
from workflows.report import run_report

GATE = {"metric": "mae", "challenger": 5.35, "champion": 1.1, "margin": 0.02, "reason": "mae 5.35 vs 1.10"}


_FIRST = {"version": "v1", "evaluate": {"gate": {"reason": "ok"}}}
_PROMOTED = {"version": "v2", "canary": {"decision": "promote", "reasons": ["r"]}}
_GATED = {"verdict": "rejected", "evaluate": {"gate": GATE}}
_ROLLED = {"version": "v2", "canary": {"decision": "rollback", "reasons": ["no traffic"]}}
_REJECTED = {"version": "v2", "approval": {"decision": "rollback", "reason": "not now"}}


@pytest.mark.parametrize(
    ("phase", "record", "before", "after", "outcome", "code"),
    [
        ("Succeeded", _FIRST, None, "v1", "first-version", 0),
        ("Succeeded", _PROMOTED, "v1", "v2", "promoted", 0),
        ("Succeeded", _GATED, "v1", "v1", "rejected-by-gate", 3),
        ("Succeeded", _ROLLED, "v1", "v1", "rolled-back", 3),
        ("Succeeded", _REJECTED, "v1", "v1", "rolled-back", 3),
        ("Succeeded", {}, "v1", "v1", "unchanged", 3),
        ("Failed", {}, "v1", "v1", "failed", 1),
        ("Error", {}, None, None, "failed", 1),
    ],
)
def test_outcome_and_exit_code(phase, record, before, after, outcome, code) -> None:
    report = run_report("demand", "run-1", phase, record, champion_before=before, champion_after=after)
    assert (report.outcome, report.exit_code) == (outcome, code)
    assert report.reason and report.model in report.line()


def test_a_gate_rejection_carries_the_metric_margin_and_reason() -> None:
    report = run_report(
        "demand", "r", "Succeeded", {"verdict": "rejected", "evaluate": {"gate": GATE}},
        champion_before="v1", champion_after="v1",
    )  # fmt: skip
    data = report.to_dict()
    assert data["outcome"] == "rejected-by-gate"
    assert data["gate"]["metric"] == "mae" and data["gate"]["margin"] == 0.02
    assert data["reason"] == "gate rejected: mae 5.35 vs 1.10"


def test_a_failure_names_the_first_failed_step_and_its_own_reason() -> None:
    failures = [
        {"step": "admit", "message": "config file x does not exist"},
        {"step": "promote", "message": "?"},
    ]
    report = run_report("demand", "r", "Failed", {}, failures, champion_before=None, champion_after=None)
    assert report.failed_step == "admit" and report.reason == "config file x does not exist"


def _stats(version: str | None, requests: int) -> VariantStats:
    return VariantStats(version, requests, 0, 2.0 if requests else None, latencies_ms=[2.0] * requests)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_canary_without_any_traffic_is_rolled_back_at_the_deadline_without_an_extension() -> None:
    clock = _Clock()
    limits = CanaryLimits(duration_s=60, poll_s=5)
    found, _, _, extended, stopped_by = watch(
        lambda: (_stats("v1", 0), _stats("v2", 0)), limits, clock=clock, sleep=clock.sleep
    )
    assert (found.decision, stopped_by, extended) == ("rollback", "no-traffic", False)
    assert "no traffic" in found.reasons[0]
    assert clock.now - 1000.0 == pytest.approx(60)  # one window, not two


def test_traffic_too_thin_for_a_verdict_still_gets_the_extension() -> None:
    clock = _Clock()
    limits = CanaryLimits(duration_s=60, poll_s=5, min_requests=100)
    _, _, _, extended, stopped_by = watch(
        lambda: (_stats("v1", 10), _stats("v2", 3)), limits, clock=clock, sleep=clock.sleep
    )
    assert (extended, stopped_by) == (True, "extension")


def test_a_decision_by_hand_ends_the_watch_at_the_next_look() -> None:
    clock = _Clock()
    calls = {"n": 0}

    def decided() -> Assessment | None:
        calls["n"] += 1
        return Assessment("promote", ["approved by ana"], [], True) if calls["n"] >= 3 else None

    found, _, _, _, stopped_by = watch(
        lambda: (_stats("v1", 0), _stats("v2", 0)),
        CanaryLimits(duration_s=300, poll_s=2),
        clock=clock,
        sleep=clock.sleep,
        decided=decided,
    )
    assert (found.decision, stopped_by, found.reasons) == ("promote", "manual", ["approved by ana"])
    assert clock.now - 1000.0 == pytest.approx(4)


def test_the_narrator_says_at_once_when_no_server_serves_the_model_then_reports_progress() -> None:
    clock, lines = _Clock(), []
    narrate = Narrator(
        "demand", "v2", CanaryLimits(), problem=lambda: "no model server is serving demand",
        every_s=10, clock=clock, emit=lines.append,
    )  # fmt: skip
    narrate(_stats("v1", 0), _stats("v2", 0), 300, False)
    assert lines[0].startswith("no model server is serving demand: the canary v2 gets no traffic")
    assert "driftloop approve demand" in lines[0] and "driftloop up" in lines[0]
    assert "0 requests" in lines[1] and "5 min 00 s left" in lines[1] and "sequential rule" in lines[1]
    clock.now += 4
    narrate(_stats("v1", 0), _stats("v2", 0), 296, False)
    assert len(lines) == 2  # at most one progress line per every_s
    clock.now += 7
    narrate(_stats("v1", 4), _stats("v2", 1), 289, False)
    assert len(lines) == 3 and "1 requests (champion 4)" in lines[2] and "rule" not in lines[2]


def test_the_narrator_warns_once_when_nothing_arrives_for_quiet_s() -> None:
    clock, lines = _Clock(), []
    narrate = Narrator(
        "demand", "v2", CanaryLimits(), every_s=1000, quiet_s=10, clock=clock, emit=lines.append
    )
    for _ in range(4):
        narrate(_stats("v1", 0), _stats("v2", 0), 300, False)
        clock.now += 5
    warnings = [line for line in lines if line.startswith("no request has reached demand")]
    assert len(warnings) == 1 and "driftloop reject demand" in warnings[0]


def test_listening_knows_a_closed_port_at_once() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listening(f"127.0.0.1:{port}") and listening(f"http://127.0.0.1:{port}")
    assert not listening(f"127.0.0.1:{port}", 0.2)
    assert addresses("a:1, http://b, https://c:9") == [("a", 1), ("b", 80), ("c", 9)]
