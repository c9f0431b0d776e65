"""The pure parts of the retrain steps: checks, split, the trainer contract, scores per task and the gate."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import ConfigError, DataError, WorkflowError
from driftloop.modelspec import EXAMPLES_DIR
from monitors.datasets import TARGET, make_credit
from workflows.steps.data import check_frame, split
from workflows.steps.evaluate import gate, score
from workflows.steps.train import fit, merge_params

sys.path.insert(0, str(EXAMPLES_DIR / "credit"))
sys.path.insert(0, str(EXAMPLES_DIR / "demand"))


@pytest.fixture(scope="module")
def credit():
    return make_credit(3000, seed=1)


@pytest.fixture(scope="module")
def parts(credit):
    return split(credit, TARGET, "classification", 0.25, seed=0)


def _fit(train: pd.DataFrame, **params):
    return fit(
        train,
        model="credit",
        task="classification",
        target=TARGET,
        trainer="credit_model:train",
        params=params,
    )


def test_check_frame_reports_and_rejects(credit):
    report = check_frame(credit, TARGET, "classification", min_rows=100)
    assert report["rows"] == 3000 and set(report["class_counts"]) == {"0", "1"}
    with pytest.raises(DataError, match="no target column 'label'"):
        check_frame(credit, "label", "classification", 100)
    with pytest.raises(DataError, match="fewer than min_rows"):
        check_frame(credit.head(50), TARGET, "classification", min_rows=100)
    with pytest.raises(DataError, match="single class"):
        check_frame(credit.assign(default=0), TARGET, "classification", 100)
    with pytest.raises(DataError, match="not numeric"):
        check_frame(credit.assign(default="x"), TARGET, "regression", 100)
    assert check_frame(credit.assign(default=1.5), TARGET, "regression", 100)["target"]["mean"] == 1.5


def test_split_is_stratified_and_deterministic(credit):
    a_train, a_hold = split(credit, TARGET, "classification", 0.25, seed=0)
    _, b_hold = split(credit, TARGET, "classification", 0.25, seed=0)
    assert len(a_hold) == 750 and len(a_train) == 2250
    assert a_hold.equals(b_hold)
    assert abs(a_hold[TARGET].mean() - credit[TARGET].mean()) < 0.01
    _, r_hold = split(credit.assign(default=np.arange(3000.0)), TARGET, "regression", 0.2, seed=0)
    assert len(r_hold) == 600  # regression: not stratified (a continuous target cannot be)


def test_fit_is_reproducible_and_learns(parts):
    train, holdout = parts
    a = _fit(train, algorithm="hgb", hyperparameters={"max_iter": 50})
    b = _fit(train, algorithm="hgb", hyperparameters={"max_iter": 50})
    x = holdout.drop(columns=[TARGET])
    assert np.array_equal(a.predict_proba(x), b.predict_proba(x))
    assert a.features == [c for c in train.columns if c != TARGET] and a.classes == [0, 1]
    scores = score(a, holdout, TARGET, "classification")
    assert scores["roc_auc"] > 0.62, scores  # the credit target is noisy: ~0.68 is what HGB reaches
    assert set(scores) == {"roc_auc", "accuracy", "f1", "log_loss"}


def test_degraded_training_scores_worse(parts):
    train, holdout = parts
    good = score(_fit(train, algorithm="logreg"), holdout, TARGET, "classification")["roc_auc"]
    # leaves larger than the data set: no split is possible, the model predicts the base rate
    bad_model = _fit(train, algorithm="hgb", hyperparameters={"min_samples_leaf": 100_000})
    bad = score(bad_model, holdout, TARGET, "classification")["roc_auc"]
    assert bad == pytest.approx(0.5) and good > 0.65, (good, bad)


def test_unknown_category_at_predict_time_is_ignored(parts):
    train, holdout = parts
    model = _fit(train, algorithm="logreg")
    odd = holdout.head(5).assign(region="mars")
    assert model.predict(odd.drop(columns=[TARGET])).shape == (5,)


def test_trainer_errors_are_one_line(parts):
    train, _ = parts
    with pytest.raises(WorkflowError, match="raised ValueError: unknown algorithm 'svm'"):
        _fit(train, algorithm="svm")
    with pytest.raises(ConfigError, match=r"models\.credit\.trainer: 'credit_model' has no function 'nope'"):
        fit(
            train,
            model="credit",
            task="classification",
            target=TARGET,
            trainer="credit_model:nope",
            params={},
        )


def test_regression_with_preprocess_and_a_custom_class():
    from demand_model import make_demand

    df = make_demand(1500, seed=3)
    train, holdout = split(df, "units", "regression", 0.2, seed=0)
    model = fit(
        train,
        model="demand",
        task="regression",
        target="units",
        trainer="demand_model:train",
        preprocess="demand_model:preprocess",
        params={"max_iter": 50},
    )
    assert type(model.estimator).__name__ == "DemandRegressor" and model.classes_ is None
    assert model.features == ["price", "promo", "temperature", "weekday", "store_size"]
    scores = score(model, holdout, "units", "regression")
    assert set(scores) == {"mae", "rmse", "r2"} and scores["r2"] > 0.8, scores
    with pytest.raises(AttributeError, match="no predict_proba"):
        model.predict_proba(holdout.drop(columns=["units"]))


def test_multiclass_scores_one_vs_rest(credit):
    df = credit.assign(default=pd.cut(credit["income"], 3, labels=["low", "mid", "high"]).astype(str))
    train, holdout = split(df, TARGET, "classification", 0.25, seed=0)
    model = _fit(train, algorithm="logreg")
    assert sorted(model.classes) == ["high", "low", "mid"]
    scores = score(model, holdout, TARGET, "classification")
    assert scores["roc_auc"] > 0.9 and 0 < scores["log_loss"] < 1.0, scores


def test_gate_follows_the_metric_direction():
    assert gate(0.80, 0.81, metric="roc_auc", margin=0.02, min_score=None).passed
    rejected = gate(0.70, 0.81, metric="roc_auc", margin=0.02, min_score=None)
    assert not rejected.passed and rejected.verdict == "rejected" and "worse than" in rejected.reason
    assert gate(0.75, None, metric="roc_auc", margin=0.02, min_score=0.6).passed
    assert not gate(0.55, None, metric="roc_auc", margin=0.02, min_score=0.6).passed
    assert gate(0.79, 0.80, metric="roc_auc", margin=0.0, min_score=None).verdict == "rejected"
    # lower is better: an MAE of 10.5 against a champion's 10.0 is worse; 9.0 is better
    assert not gate(10.5, 10.0, metric="mae", margin=0.2, min_score=None).passed
    assert gate(10.1, 10.0, metric="mae", margin=0.2, min_score=None).passed
    assert gate(9.0, 10.0, metric="mae", margin=0.0, min_score=None).lower_is_better
    assert gate(3.0, None, metric="rmse", margin=0.0, min_score=5.0).passed  # a ceiling
    assert not gate(6.0, None, metric="rmse", margin=0.0, min_score=5.0).passed
    assert gate(123.0, None, metric="mae", margin=0.0, min_score=None).passed  # no bar at all
    assert not gate(float("nan"), None, metric="mae", margin=0.0, min_score=None).passed
    with pytest.raises(DataError):
        gate(0.8, 0.8, metric="roc_auc", margin=-0.1, min_score=None)


def test_merge_params():
    assert merge_params({"a": 1}, "") == {"a": 1} and merge_params({"a": 1}, "{}") == {"a": 1}
    assert merge_params({"a": 1, "b": 2}, '{"a": 5}') == {"a": 5, "b": 2}
    with pytest.raises(DataError, match="not JSON"):
        merge_params({}, "max_iter=5")
    with pytest.raises(DataError, match="not a JSON object"):
        merge_params({}, "[1]")
