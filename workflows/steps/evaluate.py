"""evaluate: score the challenger on the holdout, re-score the champion on the same rows, gate.

The quality gate compares the two on the model's *primary metric*: the challenger may be worse than the
champion by at most ``gate_margin`` — "worse" follows the metric (``mae``, ``rmse``, ``log_loss``: higher
is worse). With no champion (the first model) — or a champion that cannot score the holdout any more (its
columns are gone) — the challenger must reach ``min_score`` (a ceiling for lower-is-better metrics; no bar
when it is unset).
This step runs in the user's image (unpickling a model runs its classes, the user's code) and holds no
signing key: it writes its scores and the fitted performance estimator as unsigned step outputs. The
``register`` step (:mod:`workflows.steps.register`, driftloop's image, the signing key) checks them,
recomputes the gate from the scores and registers a challenger that passes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, DriftloopError, IntegrityError
from driftloop.modelspec import LOWER_IS_BETTER, TASK_METRICS
from workflows.steps.context import read_table, update_run_record

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


def _estimator_bytes(model: Any, holdout: pd.DataFrame, target: str, task: str, primary_metric: str) -> bytes:
    """The performance estimator (CBPE calibration / DLE error models) fitted on the holdout, pickled;
    empty when it cannot be fitted (the monitor then measures performance on labels only). ``register``
    seals it."""
    import io

    import joblib

    from monitors.performance import fit_estimator

    try:
        estimator = fit_estimator(model, holdout, target, task, primary_metric)
    except (DataError, ValueError, TypeError, AttributeError) as exc:
        log.warning("no performance estimator for this version: %s", exc)
        return b""
    buf = io.BytesIO()
    joblib.dump(estimator, buf)
    return buf.getvalue()


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
    holdout_uri: str,
    metrics_path: Path,
    estimator_path: Path,
    task: str,
    target: str,
    primary_metric: str,
    gate_margin: float,
    min_score: float | None,
    workflow_name: str = "",
) -> dict[str, Any]:
    """Score the challenger in ``model_file`` and the champion on the holdout; write the scores to
    ``metrics_path`` and the fitted estimator to ``estimator_path`` (empty: none). Nothing is signed or
    registered here. Returns the scores and the gate's verdict (``register`` recomputes it)."""
    import io

    import joblib

    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.usercode import ensure_code_path

    if primary_metric not in TASK_METRICS.get(task, ()):
        raise DataError(
            f"primary_metric {primary_metric!r} does not fit task {task}",
            f"use one of {', '.join(TASK_METRICS.get(task, ()))}",
        )
    ensure_code_path(settings.models.get(model))
    registry = Registry(S3Store(settings))  # reads only: the champion's record is verified, never signed
    holdout = read_table(settings, holdout_uri)
    challenger = joblib.load(io.BytesIO(challenger_bytes(Path(model_file), model_sha256)))
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
    estimator = (
        _estimator_bytes(challenger, holdout, target, task, primary_metric) if decision.passed else b""
    )
    result = {
        "verdict": decision.verdict,
        "champion_version": champion_version or "",
        "challenger": scores,
        "champion": champion_scores,
        "gate": decision.to_dict(),
        "holdout_rows": len(holdout),
        "estimator_class": type(getattr(challenger, "estimator", challenger)).__name__,
    }
    for path, data in (
        (Path(metrics_path), json.dumps(result, indent=2, sort_keys=True).encode()),
        (Path(estimator_path), estimator),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        update_run_record(settings, model, workflow_name, evaluate=result)
    except DriftloopError as exc:  # the record only feeds the outcome event; the scores stand
        log.warning("cannot update the run record: %s", exc)
    return result
