"""Canary analysis: is the canary at least as good as the champion on live traffic?

Both versions' predictions are read from the inference log (every replica writes there, so this works
the same for the local server and for Kubernetes pods) and joined by request id with the delayed labels on
the feedback topic (:func:`collect`); :mod:`workflows.deploy.canary_stats` sums them up per version (error
rate, latencies and — where labels arrived — accuracy for a classifier, mean absolute error for a
regressor). A shadow challenger's records (``"route": "shadow"``, the challenger's ``model_version``) are
selected the same way, by version, so a shadow is analysed with the same call (both versions then score
the same requests; the unpaired bounds of the rules stay valid, only somewhat wider than a paired test's).

:func:`watch` looks every ``poll_s`` and asks the rules (:func:`assess` in
:mod:`workflows.deploy.canary_rules`: ``rule="sequential"``, the default, or the old ``rule="fixed"``)
for a decision, within the limits of :class:`CanaryLimits` (:mod:`workflows.deploy.canary_limits`). It
stops at the first *settled* assessment: a rollback as soon as the evidence shows harm, an early promote
when the canary is shown not worse. Otherwise:

* **at the deadline** (``duration_s`` after the start): a canary whose tests showed no harm is
  promoted if it served ``min_requests`` requests (and, with ``require_labels``, has ``min_labels``
  labels per side); with less evidence than that it is **inconclusive**: the window is extended once
  (the confidence sequences simply continue), and still inconclusive at the second deadline it is
  **rolled back** — a canary is never promoted on too little traffic. A canary worse by less than the
  window's data can show is promoted at the deadline (``bench_canary.py`` measures how often for a
  5-point accuracy drop); a longer ``canary_duration_s`` buys more evidence.

The verdict is recorded on the canary version in the registry (``records["canary_analysis"]``, see
:meth:`Verdict.to_dict`: the decision and reasons, each rule's statistic and bounds with the sample sizes
per side under ``checks``, the rule and what stopped the watch) and returned for the workflow outputs.

The public names of the limits, stats and rules modules are re-exported here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from driftloop.config import Settings
from driftloop.contracts import APPROVAL_RECORD, CANARY_OWNER_RECORD
from driftloop.registry import Registry
from workflows.deploy.canary_limits import CanaryLimits
from workflows.deploy.canary_rules import Assessment, Decision, assess, judge
from workflows.deploy.canary_stats import VariantStats, summarize
from workflows.deploy.progress import Narrator

__all__ = [
    "Assessment",
    "CanaryLimits",
    "Decision",
    "VariantStats",
    "Verdict",
    "analyze_canary",
    "assess",
    "judge",
    "summarize",
    "watch",
]

log = logging.getLogger("driftloop.serving")


@dataclass
class Verdict:
    decision: Decision
    model: str
    canary_version: str
    champion_version: str | None
    reasons: list[str]
    canary: VariantStats
    champion: VariantStats
    extended: bool = False
    since_ms: int = 0
    until_ms: int = 0
    limits: dict[str, Any] = field(default_factory=dict)
    rule: str = "sequential"
    # "evidence" | "deadline" | "extension" (inconclusive twice) | "no-traffic" | "manual"
    stopped_by: str = "evidence"
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "model": self.model,
            "canary_version": self.canary_version,
            "champion_version": self.champion_version,
            "reasons": self.reasons,
            "canary": self.canary.to_dict(),
            "champion": self.champion.to_dict(),
            "extended": self.extended,
            "since_ms": self.since_ms,
            "until_ms": self.until_ms,
            "limits": self.limits,
            "rule": self.rule,
            "stopped_by": self.stopped_by,
            "checks": self.checks,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


# --- watching ---------------------------------------------------------------------------------------------


def watch(
    observe: Callable[[], tuple[VariantStats, VariantStats]],
    limits: CanaryLimits,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_look: Callable[[VariantStats, VariantStats, float, bool], None] | None = None,
    decided: Callable[[], Assessment | None] | None = None,
) -> tuple[Assessment, VariantStats, VariantStats, bool, str]:
    """Look every ``poll_s`` until the evidence settles or the deadline; the deadline rule of the module
    docstring. ``observe()`` returns (champion, canary) so far; ``on_look(champion, canary, seconds
    left, extended)`` hears of every look (progress); ``decided()`` returns a decision made by hand
    (``driftloop approve|reject``), which ends the watch. Returns the last assessment, the stats,
    whether the window was extended and what stopped the watch."""
    deadline = clock() + limits.duration_s
    extended = False
    while True:
        champion, canary = observe()
        found = assess(champion, canary, limits)
        if on_look is not None:
            on_look(champion, canary, max(0.0, deadline - clock()), extended)
        manual = decided() if decided is not None else None
        if manual is not None:
            return manual, champion, canary, extended, "manual"
        if found.settled:
            return found, champion, canary, extended, "evidence"
        if clock() < deadline:
            sleep(min(limits.poll_s, max(0.0, deadline - clock())))
            continue
        if champion.requests == 0 and canary.requests == 0:
            # nothing reached the model at all: another window cannot help, and a silent wait would hide
            # that no server (or no client) is there
            reasons = [
                f"no traffic: no request reached the champion or the canary in {limits.duration_s:.0f} s "
                "(is a model server running, and are clients sending requests?)"
            ]
            return (
                replace(found, decision="rollback", reasons=reasons),
                champion,
                canary,
                extended,
                "no-traffic",
            )
        if found.decision != "inconclusive":
            return found, champion, canary, extended, "deadline"
        if not extended:
            log.info("canary %s inconclusive (%s); extending once", canary.version, found.reasons[0])
            extended = True
            deadline = clock() + limits.duration_s
            continue
        reasons = [*found.reasons, "still inconclusive after one extension: rolling back"]
        return replace(found, decision="rollback", reasons=reasons), champion, canary, extended, "extension"


def _read(settings: Settings, topic: str, since_ms: int) -> list[dict[str, Any]]:
    from driftloop.kafka import read_recent

    out = []
    for rec in read_recent(settings, topic, since_ms=since_ms):
        try:
            value = json.loads(rec.value)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def collect(settings: Settings, model: str, since_ms: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Inference-log records of ``model`` and feedback labels (request id -> label) since ``since_ms``."""
    records = [r for r in _read(settings, settings.topics.inference_log, since_ms) if r.get("model") == model]
    labels = {
        str(f["request_id"]): f.get("label")
        for f in _read(settings, settings.topics.feedback, since_ms)
        if f.get("request_id") is not None and f.get("model", model) == model
    }
    return records, labels


def analyze_canary(
    settings: Settings,
    registry: Registry,
    model: str,
    version: str,
    limits: CanaryLimits | None = None,
    *,
    since_ms: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    problem: Callable[[], str | None] | None = None,
) -> Verdict:
    """Watch the canary ``version`` of ``model`` and decide; record and return the verdict.

    ``since_ms`` starts the evidence window (default: when the canary was deployed, from its
    ``canary_deploy`` record): a step of a progressive rollout passes the step's start so each step is
    judged on its own traffic. A shadow challenger is analysed by the same call (its records carry its
    version). ``problem()`` names what keeps traffic away, if the deploy target knows (said at once, see
    :mod:`workflows.deploy.progress`). A decision made by hand on the version during the window
    (``driftloop approve|reject``, the registry's approval record) ends the watch."""
    limits = limits or CanaryLimits()
    champion_version = registry.get_alias(model, "champion")
    records = registry.get(model, version).records
    if since_ms is None:
        deployed = records.get("canary_deploy") or {}
        since_ms = int(deployed.get("started_ms") or (clock() - limits.duration_s) * 1000)
    start = since_ms
    owner = str((records.get(CANARY_OWNER_RECORD) or {}).get("workflow") or "")

    def observe() -> tuple[VariantStats, VariantStats]:
        records, labels = collect(settings, model, start)
        return (
            summarize(records, labels, champion_version, limits.task),
            summarize(records, labels, version, limits.task),
        )

    def decided() -> Assessment | None:
        made = registry.get(model, version).records.get(APPROVAL_RECORD) or {}
        if not owner or made.get("workflow") != owner or int(made.get("at_ms") or 0) < start:
            return None
        promote = made.get("decision") == "approve"
        why = f"{'approved' if promote else 'rejected'} by {made.get('by') or 'hand'}" + (
            f": {made['reason']}" if made.get("reason") else ""
        )
        return Assessment("promote" if promote else "rollback", [why], [], True)

    narrate = Narrator(model, version, limits, problem=problem)
    narrate.start()
    found, champion, canary, extended, stopped_by = watch(
        observe, limits, clock=clock, sleep=sleep, on_look=narrate, decided=decided
    )
    verdict = Verdict(
        found.decision,
        model,
        version,
        champion_version,
        found.reasons,
        canary,
        champion,
        extended,
        since_ms,
        int(clock() * 1000),
        asdict(limits),
        limits.rule,
        stopped_by,
        found.checks,
    )
    registry.record(model, version, "canary_analysis", verdict.to_dict())
    log.info("canary %s %s: %s (%s)", model, version, found.decision, "; ".join(found.reasons))
    return verdict
