"""evaluate: score the challenger on the holdout, re-score the champion on the same rows, gate, register.

The quality gate compares the two on the *primary metric* (``roc_auc`` by default): the challenger may
be worse than the champion by at most ``gate_margin``. With no champion (the first model) — or a champion
that cannot score the holdout any more (its columns are gone) — the challenger must reach ``min_score``.
Only a challenger that passes is registered, with its lineage and its reference profile (built by
``monitors.build_profile`` from the train snapshot) next to the model file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, DriftloopError
from workflows.steps.context import code_version, read_table, step_settings, update_run_record

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.registry import Registry

__all__ = ["METRICS", "GateDecision", "evaluate", "gate", "score"]

log = logging.getLogger("driftloop.workflows")

METRICS = ("roc_auc", "accuracy", "f1", "balanced_accuracy")


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict and the numbers it was based on."""

    passed: bool
    metric: str
    challenger: float
    champion: float | None
    margin: float
    min_score: float
    reason: str

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def gate(
    challenger: float,
    champion: float | None,
    *,
    metric: str = "roc_auc",
    margin: float = 0.02,
    min_score: float = 0.6,
) -> GateDecision:
    """Pass when ``challenger >= champion - margin``; with no champion, when ``challenger >= min_score``."""
    if margin < 0:
        raise DataError(f"gate_margin={margin} is negative", "use a margin >= 0, e.g. 0.02")
    if champion is None:
        passed = challenger >= min_score
        reason = f"no champion: {metric} {challenger:.4f} {'>=' if passed else '<'} min_score {min_score}"
    else:
        floor = champion - margin
        passed = challenger >= floor
        reason = (
            f"{metric} {challenger:.4f} vs champion {champion:.4f}: "
            f"{'within' if passed else 'worse than'} margin {margin} (floor {floor:.4f})"
        )
    return GateDecision(passed, metric, challenger, champion, margin, min_score, reason)


def score(pipeline: Any, df: pd.DataFrame, target: str) -> dict[str, float]:
    """Every metric of ``pipeline`` on ``df`` (binary or multiclass)."""
    from sklearn import metrics as skm

    x, y = df.drop(columns=[target]), df[target]
    pred = pipeline.predict(x)
    proba = pipeline.predict_proba(x)
    binary = proba.shape[1] == 2
    if binary:
        auc = skm.roc_auc_score(y, proba[:, 1])
    else:
        auc = skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(pipeline.classes_))
    return {
        "roc_auc": float(auc),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(
            skm.f1_score(
                y,
                pred,
                average="binary" if binary else "macro",
                pos_label=pipeline.classes_[-1] if binary else 1,
            )
        ),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
    }


def _champion_scores(
    registry: Registry, model: str, holdout: pd.DataFrame, target: str
) -> tuple[str | None, dict[str, float] | None]:
    version = registry.get_alias(model, "champion")
    if version is None:
        return None, None
    _, champion = registry.load_model(model, version)  # sha256 verified before loading
    try:
        return version, score(champion, holdout, target)
    except (KeyError, ValueError) as exc:
        log.warning(
            "champion %s of %s cannot score the holdout (%s); gating on min_score", version, model, exc
        )
        return version, None


def _existing(registry: Registry, model: str, workflow_uid: str) -> str | None:
    """The version this run already registered (a retried evaluate must not register twice)."""
    if not workflow_uid:
        return None
    for mv in registry.versions(model):
        if mv.lineage.get("workflow_uid") == workflow_uid:
            return mv.version
    return None


def evaluate(
    model: str,
    model_file: Path,
    train_uri: str,
    holdout_uri: str,
    metrics_path: Path,
    profile_path: Path,
    target: str = "default",
    primary_metric: str = "roc_auc",
    gate_margin: float = 0.02,
    min_score: float = 0.6,
    reason: str = "manual",
    event_id: str = "",
    report_uri: str = "",
    dataset_uri: str = "",
    workflow_name: str = "",
    workflow_uid: str = "",
) -> dict[str, Any]:
    """Gate the challenger in ``model_file``; register it when it passes. Writes ``metrics_path`` always
    and ``profile_path`` when registered. Returns verdict, version and the scores."""
    import joblib

    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from monitors import MonitorDefinition, build_profile

    if primary_metric not in METRICS:
        raise DataError(f"unknown primary_metric {primary_metric!r}", f"use one of {', '.join(METRICS)}")
    settings = step_settings()
    registry = Registry(S3Store(settings))
    holdout = read_table(settings, holdout_uri)
    challenger = joblib.load(Path(model_file))
    scores = score(challenger, holdout, target)
    champion_version, champion_scores = _champion_scores(registry, model, holdout, target)
    decision = gate(
        scores[primary_metric],
        champion_scores[primary_metric] if champion_scores else None,
        metric=primary_metric,
        margin=float(gate_margin),
        min_score=float(min_score),
    )
    log.info("gate %s: %s", decision.verdict, decision.reason)
    version = ""
    if decision.passed:
        version = _existing(registry, model, workflow_uid) or _register(
            registry,
            model,
            Path(model_file),
            train_uri,
            holdout_uri,
            profile_path,
            target,
            scores,
            champion_version,
            champion_scores,
            decision,
            lineage={
                "workflow_name": workflow_name,
                "workflow_uid": workflow_uid,
                "event_id": event_id,
                "reason": reason,
                "report_uri": report_uri,
                "dataset_uri": dataset_uri,
                "code_version": code_version(),
            },
            build=lambda df, v: build_profile(
                df, MonitorDefinition(model=model, target=target), model_version=v
            ).to_bytes(),
        )
    result = {
        "verdict": decision.verdict,
        "version": version,
        "champion_version": champion_version or "",
        "challenger": scores,
        "champion": champion_scores,
        "gate": decision.to_dict(),
        "holdout_rows": len(holdout),
    }
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(result, indent=2, sort_keys=True))
    try:
        update_run_record(
            settings, model, workflow_name, evaluate=result, verdict=decision.verdict, version=version
        )
    except DriftloopError as exc:  # the record only feeds the outcome event; the gate result stands
        log.warning("cannot update the run record: %s", exc)
    return result


def _register(
    registry: Registry,
    model: str,
    model_file: Path,
    train_uri: str,
    holdout_uri: str,
    profile_path: Path,
    target: str,
    scores: dict[str, float],
    champion_version: str | None,
    champion_scores: dict[str, float] | None,
    decision: GateDecision,
    *,
    lineage: dict[str, Any],
    build: Any,
) -> str:
    settings = registry.store.settings
    numbers = [mv.number for mv in registry.versions(model)]
    expected = f"v{(max(numbers) if numbers else 0) + 1}"
    profile = build(read_table(settings, train_uri), expected)
    Path(profile_path).parent.mkdir(parents=True, exist_ok=True)
    Path(profile_path).write_bytes(profile)
    mv = registry.register(
        model,
        Path(model_file).read_bytes(),
        metrics={
            "holdout": scores,
            "primary_metric": decision.metric,
            "champion_holdout": champion_scores,
            "champion_version": champion_version,
        },
        lineage={**lineage, "target": target, "gate": decision.to_dict()},
        reference_profile=profile,
        data_snapshots=[train_uri, holdout_uri],
    )
    if mv.version != expected:  # cannot happen under the model's mutex; keep the profile's version right
        profile = build(read_table(settings, train_uri), mv.version)
        registry.put_file(model, mv.version, "reference_profile.bin", profile)
        Path(profile_path).write_bytes(profile)
    return mv.version
