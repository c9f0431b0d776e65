"""What a retrain run did, told to the person who started it (``driftloop retrain``).

The outcome is decided from the same run record the exit handler's outcome event is built from
(:func:`workflows.steps.outcome.outcome_event`), plus the champion before and after the run:

====================  ===========================================================  =========
outcome               when                                                         exit code
====================  ===========================================================  =========
``promoted``          the challenger replaced a champion                           0
``first-version``     the model had no champion; the challenger is now the first   0
``rejected-by-gate``  the quality gate turned the challenger down                  3
``rolled-back``       the canary analysis (or the approval) turned it down         3
``unchanged``         the run Succeeded but the champion did not change otherwise  3
``failed``            the run did not succeed                                      1
====================  ===========================================================  =========
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["EXIT_CODES", "RunReport", "run_report"]

#: 0: the challenger became champion; 3: the run Succeeded but the champion is unchanged; 1: it failed.
EXIT_CODES = {
    "promoted": 0,
    "first-version": 0,
    "rejected-by-gate": 3,
    "rolled-back": 3,
    "unchanged": 3,
    "failed": 1,
}


@dataclass(frozen=True)
class RunReport:
    """One retrain run's outcome: what happened, why, and the champion before and after."""

    model: str
    run: str
    phase: str
    outcome: str
    reason: str
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    failed_step: str | None = None
    gate: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one line the CLI ends with."""
        change = f"champion {self.champion_before or 'none'} → {self.champion_after or 'none'}"
        where = f" at {self.failed_step}" if self.failed_step else ""
        return f"{self.model}: {self.outcome}{where} — {self.reason} ({change}; run {self.run})"


def _gate_reason(gate: Mapping[str, Any]) -> str:
    return f"gate rejected: {gate.get('reason') or 'the challenger is worse than the champion'}"


def _canary_reason(canary: Mapping[str, Any]) -> str:
    reasons = "; ".join(str(r) for r in canary.get("reasons") or []) or "no reason recorded"
    return f"canary rolled back: {reasons}"


def run_report(
    model: str,
    run: str,
    phase: str,
    record: Mapping[str, Any],
    failures: Sequence[Mapping[str, str]] = (),
    *,
    champion_before: str | None,
    champion_after: str | None,
) -> RunReport:
    """The report of run ``run`` of ``model`` that ended in ``phase`` (Argo's).

    Args:
        record: the run record the steps wrote (``workflows.steps.context.read_run_record``).
        failures: the failed steps, first first: ``{"step", "message"}`` each (the message is the step's
            own one-line reason where it left one).
        champion_before: the champion when the run started (None: the model had none).
        champion_after: the champion now.
    """
    version = str(record.get("version") or "") or None
    gate = (record.get("evaluate") or {}).get("gate")
    gate = dict(gate) if isinstance(gate, Mapping) else None
    common: dict[str, Any] = {
        "model": model,
        "run": run,
        "phase": phase,
        "version": version,
        "champion_before": champion_before,
        "champion_after": champion_after,
        "gate": gate,
    }
    if phase != "Succeeded":
        first = failures[0] if failures else {}
        step = first.get("step") or None
        reason = first.get("message") or f"the run ended {phase}"
        return RunReport(outcome="failed", reason=reason, failed_step=step, **common)
    canary = record.get("canary") or {}
    approval = record.get("approval") or {}
    if record.get("verdict") == "rejected":
        return RunReport(outcome="rejected-by-gate", reason=_gate_reason(gate or {}), **common)
    if isinstance(canary, Mapping) and canary.get("decision") == "rollback":
        return RunReport(outcome="rolled-back", reason=_canary_reason(canary), **common)
    if isinstance(approval, Mapping) and approval.get("decision") == "rollback":
        why = approval.get("reason") or approval.get("by") or "no decision before the timeout"
        return RunReport(outcome="rolled-back", reason=f"rejected at approval: {why}", **common)
    if champion_after and champion_after != champion_before:
        if champion_before is None:
            reason = f"{champion_after} is the first champion" + (
                f" ({gate['reason']})" if gate and gate.get("reason") else ""
            )
            return RunReport(outcome="first-version", reason=reason, **common)
        reason = f"{champion_after} replaced {champion_before}"
        if isinstance(canary, Mapping) and canary.get("reasons"):
            reason += f" (canary: {canary['reasons'][0]})"
        return RunReport(outcome="promoted", reason=reason, **common)
    return RunReport(
        outcome="unchanged",
        reason=f"the run Succeeded but the champion is still {champion_after or 'none'}",
        **common,
    )
