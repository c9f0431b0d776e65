"""evaluate: score the challenger on the holdout, re-score the champion on the same rows, gate, register.

The quality gate compares the two on the model's *primary metric*: the challenger may be worse than the
champion by at most ``gate_margin`` — "worse" follows the metric (``mae``, ``rmse``, ``log_loss``: higher
is worse). With no champion (the first model) — or a champion that cannot score the holdout any more (its
columns are gone) — the challenger must reach ``min_score`` (a ceiling for lower-is-better metrics; no bar
when it is unset).
Only a challenger that passes is registered, with its lineage and its reference profile (built by
``monitors.build_profile`` from the train snapshot) next to the model file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, DriftloopError, IntegrityError
from driftloop.modelspec import LOWER_IS_BETTER, TASK_METRICS
from workflows.steps.context import code_version, read_table, update_run_record

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.registry import Registry

__all__ = ["GateDecision", "evaluate", "gate", "score"]

log = logging.getLogger("driftloop.workflows")


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict and the numbers it was based on."""

    passed: bool
    metric: str
    challenger: float
    champion: float | None
    margin: float
    min_score: float | None
    reason: str
    lower_is_better: bool = False

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def gate(
    challenger: float,
    champion: float | None,
    *,
    metric: str,
    margin: float,
    min_score: float | None,
) -> GateDecision:
    """Pass when the challenger is at most ``margin`` worse than the champion; with no champion, when it
    reaches ``min_score`` (None: no bar). The direction follows ``metric``."""
    import math

    if margin < 0:
        raise DataError(f"gate_margin={margin} is negative", "use a margin >= 0, e.g. 0.02")
    lower = metric in LOWER_IS_BETTER
    worse, better = (">", "<=") if lower else ("<", ">=")
    if not math.isfinite(challenger):
        return GateDecision(
            False, metric, challenger, champion, margin, min_score, f"{metric} is {challenger}", lower
        )
    if champion is None:
        if min_score is None:
            passed, reason = True, f"no champion and no min_score: {metric} {challenger:.4f} accepted"
        else:
            passed = challenger <= min_score if lower else challenger >= min_score
            reason = (
                f"no champion: {metric} {challenger:.4f} {better if passed else worse} min_score {min_score}"
            )
    else:
        bound = champion + margin if lower else champion - margin
        passed = challenger <= bound if lower else challenger >= bound
        reason = (
            f"{metric} {challenger:.4f} vs champion {champion:.4f} ({'lower' if lower else 'higher'} is "
            f"better): {'within' if passed else 'worse than'} margin {margin} (bound {bound:.4f})"
        )
    return GateDecision(passed, metric, challenger, champion, margin, min_score, reason, lower)


def score(model: Any, df: pd.DataFrame, target: str, task: str) -> dict[str, float]:
    """Every metric of ``task`` (:data:`~driftloop.modelspec.TASK_METRICS`) of ``model`` on ``df``."""
    import numpy as np
    from sklearn import metrics as skm

    x, y = df.drop(columns=[target]), df[target]
    pred = np.asarray(model.predict(x))
    if task == "regression":
        y_true = y.to_numpy(dtype=float)
        return {
            "mae": float(skm.mean_absolute_error(y_true, pred)),
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
            "r2": float(skm.r2_score(y_true, pred)),
        }
    proba = np.asarray(model.predict_proba(x))
    found = getattr(model, "classes_", None)
    classes: list[Any] = list(found) if found is not None else []
    binary = proba.shape[1] == 2
    try:
        if binary:
            auc = skm.roc_auc_score(y, proba[:, 1]) if len(set(y)) > 1 else float("nan")
        else:
            auc = skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    except ValueError:  # a class missing from the holdout
        auc = float("nan")
    return {
        "roc_auc": float(auc),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(
            skm.f1_score(
                y, pred, average="binary" if binary else "macro", pos_label=classes[-1] if binary else 1
            )
        ),
        "log_loss": float(skm.log_loss(y, np.clip(proba, 1e-15, 1.0), labels=classes)),
    }


def _champion_scores(
    registry: Registry, model: str, holdout: pd.DataFrame, target: str, task: str
) -> tuple[str | None, dict[str, float] | None]:
    version = registry.get_alias(model, "champion")
    if version is None:
        return None, None
    _, champion = registry.load_model(model, version)  # sha256 verified before loading
    try:
        return version, score(champion, holdout, target, task)
    except (KeyError, ValueError, AttributeError) as exc:
        log.warning(
            "champion %s of %s cannot score the holdout (%s); gating on min_score", version, model, exc
        )
        return version, None


def _estimator_files(
    registry: Registry, model: Any, holdout: pd.DataFrame, target: str, task: str, primary_metric: str
) -> dict[str, bytes]:
    """The performance estimator (CBPE calibration / DLE error models) fitted on the holdout, sealed
    with the signing key, as a file to register; none when it cannot be fitted
    (the monitor then measures performance on labels only)."""
    import io

    import joblib

    from driftloop.signing import seal
    from monitors.performance import ESTIMATOR_FILE, fit_estimator

    try:
        estimator = fit_estimator(model, holdout, target, task, primary_metric)
    except (DataError, ValueError, TypeError, AttributeError) as exc:
        log.warning("no performance estimator for this version: %s", exc)
        return {}
    buf = io.BytesIO()
    joblib.dump(estimator, buf)
    return {ESTIMATOR_FILE: seal(registry.signer, buf.getvalue())}


def _existing(registry: Registry, model: str, workflow_uid: str) -> str | None:
    """The version this run already registered (a retried evaluate must not register twice)."""
    if not workflow_uid:
        return None
    for mv in registry.versions(model):
        if mv.lineage.get("workflow_uid") == workflow_uid:
            return mv.version
    return None


def challenger_bytes(model_file: Path, sha256: str) -> bytes:
    """The challenger's bytes, checked against the sha256 the train step reported as an output parameter
    — a value kept by Argo (or the local executor), not in the bucket — before anything unpickles them.
    The train step holds no signing key: it runs the user's code."""
    import hashlib

    data = model_file.read_bytes()
    if not sha256:
        raise IntegrityError(
            f"the challenger {model_file} comes without the train step's sha256",
            "run it through the retrain template, which passes train's model_sha256 to evaluate",
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise IntegrityError(
            f"the challenger {model_file}: sha256 {digest[:12]}… differs from the {sha256[:12]}… the train "
            "step wrote",
            "the file was modified after training; not loaded",
        )
    return data


def evaluate(
    settings: Settings,
    *,
    model: str,
    model_file: Path,
    model_sha256: str = "",
    train_uri: str,
    holdout_uri: str,
    metrics_path: Path,
    profile_path: Path,
    task: str,
    target: str,
    primary_metric: str,
    gate_margin: float,
    min_score: float | None,
    monitor: dict[str, Any] | None = None,
    reason: str = "manual",
    event_id: str = "",
    report_uri: str = "",
    dataset_uri: str = "",
    workflow_name: str = "",
    workflow_uid: str = "",
) -> dict[str, Any]:
    """Gate the challenger in ``model_file``; register it when it passes. Writes ``metrics_path`` always
    and ``profile_path`` when registered. Returns verdict, version and the scores."""
    import io

    import joblib

    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.usercode import ensure_code_path
    from monitors import MonitorDefinition, build_profile

    if primary_metric not in TASK_METRICS.get(task, ()):
        raise DataError(
            f"primary_metric {primary_metric!r} does not fit task {task}",
            f"use one of {', '.join(TASK_METRICS.get(task, ()))}",
        )
    ensure_code_path(settings.models.get(model))
    registry = Registry(S3Store(settings))
    holdout = read_table(settings, holdout_uri)
    model_bytes = challenger_bytes(Path(model_file), model_sha256)
    challenger = joblib.load(io.BytesIO(model_bytes))
    scores = score(challenger, holdout, target, task)
    champion_version, champion_scores = _champion_scores(registry, model, holdout, target, task)
    decision = gate(
        scores[primary_metric],
        champion_scores[primary_metric] if champion_scores else None,
        metric=primary_metric,
        margin=float(gate_margin),
        min_score=min_score,
    )
    log.info("gate %s: %s", decision.verdict, decision.reason)
    definition = MonitorDefinition(model=model, target=target, **(monitor or {}))
    version = ""
    if decision.passed:
        version = _existing(registry, model, workflow_uid) or _register(
            registry,
            model,
            model_bytes,
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
                "task": task,
                "estimator": type(getattr(challenger, "estimator", challenger)).__name__,
            },
            build=lambda df, v: build_profile(df, definition, model_version=v).to_bytes(),
            files=_estimator_files(registry, challenger, holdout, target, task, primary_metric),
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
    model_bytes: bytes,
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
    files: dict[str, bytes] | None = None,
) -> str:
    settings = registry.store.settings
    numbers = [mv.number for mv in registry.versions(model)]
    expected = f"v{(max(numbers) if numbers else 0) + 1}"
    profile = build(read_table(settings, train_uri), expected)
    Path(profile_path).parent.mkdir(parents=True, exist_ok=True)
    Path(profile_path).write_bytes(profile)
    mv = registry.register(
        model,
        model_bytes,
        metrics={
            "holdout": scores,
            "primary_metric": decision.metric,
            "champion_holdout": champion_scores,
            "champion_version": champion_version,
        },
        lineage={**lineage, "target": target, "gate": decision.to_dict()},
        reference_profile=profile,
        data_snapshots=[train_uri, holdout_uri],
        files=files,
    )
    if mv.version != expected:  # cannot happen under the model's mutex; keep the profile's version right
        profile = build(read_table(settings, train_uri), mv.version)
        registry.put_file(model, mv.version, "reference_profile.bin", profile)
        Path(profile_path).write_bytes(profile)
    return mv.version
