"""Canary verdicts on simulated traffic: the sequential rule against the previous fixed-horizon rule.

Each simulated canary gets Poisson request arrivals (``--rate`` requests/s, 20 % to the canary), request
errors, log-normal latencies and, for a share of the requests, a feedback label that arrives 10-60 s
later; both versions draw from the same distributions except where the scenario says otherwise. The
real loop (:func:`workflows.deploy.analysis.watch`, which calls :func:`assess` at every poll, with the
extension and the deadline rule) runs on a simulated clock with the ``CanarySettings`` defaults (poll
2 s, window 300 s). Both rules see the same streams (same seeds), so the comparison is paired:

* ``equal`` classifier (accuracy 0.80 both): a rollback is a false rollback;
* ``drop`` classifier (canary 0.75): a rollback is a detection, a promote a false promote;
* ``equal`` / ``worse`` regressor (absolute errors of N(0, 5) vs N(0, 6): MAE +20 %).

    .venv/bin/python tests/benchmarks/bench_canary.py [--canaries 1000] [--rate 20] [--seed 0]

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driftloop.config import CanarySettings
from workflows.deploy.analysis import CanaryLimits, VariantStats, watch


@dataclass(frozen=True)
class Scenario:
    name: str
    task: str = "classification"
    champion: float = 0.80  # accuracy, or the sd of the regressor's error
    canary: float = 0.80
    rate: float = 20.0  # requests/s over both versions
    canary_fraction: float = 0.2
    label_share: float = 0.5  # requests that get a feedback label
    label_delay_s: tuple[float, float] = (10.0, 60.0)
    error_rate: float = 0.002
    latency_ms: float = 3.0  # median; log-normal with sigma 0.4


@dataclass
class _Side:
    """One version's simulated stream, ordered by arrival (requests) and by label time (labels)."""

    arrivals: np.ndarray
    errors: np.ndarray  # cumulative error count after i requests
    latencies: np.ndarray
    label_times: np.ndarray
    correct: np.ndarray  # cumulative, by label time
    abs_sum: np.ndarray
    abs_sq: np.ndarray


def _side(rng: np.random.Generator, sc: Scenario, share: float, quality: float, horizon: float) -> _Side:
    n = rng.poisson(sc.rate * share * horizon)
    arrivals = np.sort(rng.uniform(0, horizon, n))
    failed = rng.random(n) < sc.error_rate
    latencies = sc.latency_ms * np.exp(rng.normal(0, 0.4, n))
    labelled = (rng.random(n) < sc.label_share) & ~failed
    times = arrivals[labelled] + rng.uniform(*sc.label_delay_s, int(labelled.sum()))
    order = np.argsort(times)
    m = len(times)
    if sc.task == "regression":
        err = np.abs(rng.normal(0, quality, m))
        correct = np.zeros(m)
    else:
        err = np.zeros(m)
        correct = (rng.random(m) < quality).astype(float)
    zero = np.zeros(1)
    return _Side(
        arrivals,
        np.concatenate([zero, np.cumsum(failed)]),
        latencies,
        times[order],
        np.concatenate([zero, np.cumsum(correct)]),
        np.concatenate([zero, np.cumsum(err)]),
        np.concatenate([zero, np.cumsum(err * err)]),
    )


class _Stream:
    """``observe()`` for :func:`watch`: the stats of both versions at the simulated clock's time."""

    def __init__(self, champion: _Side, canary: _Side, task: str) -> None:
        self.sides = (champion, canary)
        self.task = task
        self.now = 0.0
        self.seen = [0, 0]
        self.sorted: tuple[list[float], list[float]] = ([], [])

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def observe(self) -> tuple[VariantStats, VariantStats]:
        out = []
        for i, (side, name) in enumerate(zip(self.sides, ("champion", "canary"), strict=True)):
            n = int(np.searchsorted(side.arrivals, self.now, side="right"))
            lat = self.sorted[i]
            if n > self.seen[i]:
                lat.extend(side.latencies[self.seen[i] : n].tolist())
                lat.sort()
                self.seen[i] = n
            k = int(np.searchsorted(side.label_times, self.now, side="right"))
            p95 = lat[min(n - 1, -(-95 * n // 100) - 1)] if n else None
            out.append(
                VariantStats(
                    name,
                    requests=n,
                    errors=int(side.errors[n]),
                    p95_latency_ms=p95,
                    labeled=k,
                    correct=int(side.correct[k]),
                    abs_error_sum=float(side.abs_sum[k]),
                    abs_error_sq_sum=float(side.abs_sq[k]),
                    task=self.task,
                    latencies_ms=lat,
                )
            )
        return out[0], out[1]


def streams(sc: Scenario, limits: CanaryLimits, seed: int) -> tuple[_Side, _Side]:
    """One canary's simulated traffic (long enough for the window and its extension)."""
    rng = np.random.default_rng(seed)
    horizon = 2 * limits.duration_s + limits.poll_s
    return (
        _side(rng, sc, 1 - sc.canary_fraction, sc.champion, horizon),
        _side(rng, sc, sc.canary_fraction, sc.canary, horizon),
    )


def run_one(sides: tuple[_Side, _Side], limits: CanaryLimits) -> tuple[str, float, str]:
    """The real watch loop on one simulated canary: (decision, seconds to verdict, what stopped it)."""
    stream = _Stream(*sides, limits.task)
    found, _champion, _canary, _extended, stopped_by = watch(
        stream.observe, limits, clock=stream.clock, sleep=stream.sleep
    )
    return found.decision, stream.now, stopped_by


def default_limits(task: str, rule: str) -> CanaryLimits:
    """``CanaryLimits`` from the ``CanarySettings`` defaults (what a model without overrides gets)."""
    return CanaryLimits.from_kwargs(**{**CanarySettings().model_dump(), "task": task, "rule": rule})


def simulate(sc: Scenario, canaries: int, seed: int, rules: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Run ``canaries`` simulated canaries of scenario ``sc`` under each rule on the same streams."""
    outcomes: dict[str, list[tuple[str, float, str]]] = {rule: [] for rule in rules}
    limits = {rule: default_limits(sc.task, rule) for rule in rules}
    for i in range(canaries):
        sides = streams(sc, limits[rules[0]], seed * 1_000_003 + i)
        for rule in rules:
            outcomes[rule].append(run_one(sides, limits[rule]))
    out = {}
    for rule, rows in outcomes.items():
        rollback = [t for d, t, _ in rows if d == "rollback"]
        out[rule] = {
            "rollback_rate": len(rollback) / canaries,
            "median_s": float(np.median([t for _, t, _ in rows])),
            "median_rollback_s": float(np.median(rollback)) if rollback else None,
            "early": sum(s == "evidence" for _, _, s in rows) / canaries,
        }
    return out


SCENARIOS = {
    "cls_equal": Scenario("classifier, equal accuracy 0.80"),
    "cls_drop": Scenario("classifier, accuracy 0.80 -> 0.75", canary=0.75),
    "reg_equal": Scenario("regressor, equal error sd 5", task="regression", champion=5.0, canary=5.0),
    "reg_worse": Scenario(
        "regressor, error sd 5 -> 6 (MAE +20 %)", task="regression", champion=5.0, canary=6.0
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s over both versions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    res = {}
    for key, sc in SCENARIOS.items():
        res[key] = simulate(replace(sc, rate=args.rate), args.canaries, args.seed, ("fixed", "sequential"))
    limits = default_limits("classification", "sequential")
    print(
        f"{args.canaries} simulated canaries per scenario; {args.rate:g} req/s, 20 % canary, 50 % labelled "
        f"10-60 s later; poll {limits.poll_s:g} s, window {limits.duration_s:g} s (+1 extension), "
        f"alpha {limits.alpha:.2f}"
    )
    print(f"{'scenario':42} {'':18} {'fixed (old)':>14} {'sequential':>14} {'new/old':>9}")

    def row(key: str, label: str, field: str, fmt: str) -> None:
        old, new = res[key]["fixed"][field], res[key]["sequential"][field]
        show = [format(v, fmt) if v is not None else "-" for v in (old, new)]
        ratio = f"{new / old:.2f}x" if old and new is not None else "-"
        print(f"{SCENARIOS[key].name:42} {label:18} {show[0]:>14} {show[1]:>14} {ratio:>9}")

    row("cls_equal", "false rollback", "rollback_rate", ".3f")
    row("cls_equal", "median verdict s", "median_s", ".0f")
    row("cls_drop", "detection", "rollback_rate", ".3f")
    row("cls_drop", "median detect s", "median_rollback_s", ".0f")
    row("reg_equal", "false rollback", "rollback_rate", ".3f")
    row("reg_equal", "median verdict s", "median_s", ".0f")
    row("reg_worse", "detection", "rollback_rate", ".3f")
    row("reg_worse", "median detect s", "median_rollback_s", ".0f")
    print(f"took {time.perf_counter() - started:.1f} s")
    new, old = "sequential", "fixed"
    print(
        json.dumps(
            {
                "canaries": args.canaries,
                "rate": args.rate,
                "false_rollback_rate": res["cls_equal"][new]["rollback_rate"],
                "detection_rate": res["cls_drop"][new]["rollback_rate"],
                "median_time_to_detection_s": res["cls_drop"][new]["median_rollback_s"],
                "median_time_to_verdict_equal_s": res["cls_equal"][new]["median_s"],
                "old_false_rollback_rate": res["cls_equal"][old]["rollback_rate"],
                "old_detection_rate": res["cls_drop"][old]["rollback_rate"],
                "old_median_time_to_detection_s": res["cls_drop"][old]["median_rollback_s"],
                "old_median_time_to_verdict_equal_s": res["cls_equal"][old]["median_s"],
                "regression_false_rollback_rate": res["reg_equal"][new]["rollback_rate"],
                "regression_detection_rate": res["reg_worse"][new]["rollback_rate"],
                "regression_median_time_to_detection_s": res["reg_worse"][new]["median_rollback_s"],
                "old_regression_false_rollback_rate": res["reg_equal"][old]["rollback_rate"],
                "old_regression_detection_rate": res["reg_worse"][old]["rollback_rate"],
                "old_regression_median_time_to_detection_s": res["reg_worse"][old]["median_rollback_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
