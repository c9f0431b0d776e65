"""Multiclass CBPE and measured multiclass metrics, from the class probabilities the server logs.

A 4-class problem (``make_classification``) and a logistic regression: the estimator is fitted on a
labelled holdout, the windows are scored as the server logs them (``prediction``, ``probability``,
``probabilities``), and every estimate is compared with the metric the window's labels realise.
"""

from __future__ import annotations

import functools
import pickle
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from driftloop.errors import DataError
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.service import PredictionService, log_records
from driftloop.serving.shadow import ShadowJob, ShadowRunner
from driftloop.serving.slots import LoadedModel
from monitors.performance import PerformanceEstimator, check_performance, fit_estimator, measure
from monitors.performance._stats import probability_matrix
from monitors.window import frame_from_records

FEATURES = [f"f{i}" for i in range(8)]
TARGET = "target"
CLASSES = 4


@pytest.fixture(scope="module")
def problem() -> tuple[LogisticRegression, PerformanceEstimator, pd.DataFrame]:
    """The model, its estimator fitted on a 5000-row holdout, and a pool of 70,000 unseen rows."""
    x, y = make_classification(
        n_samples=80_000,
        n_features=len(FEATURES),
        n_informative=5,
        n_redundant=1,
        n_classes=CLASSES,
        n_clusters_per_class=1,
        flip_y=0.02,
        random_state=4,
    )
    frame = pd.DataFrame(x, columns=FEATURES).assign(**{TARGET: y})
    train, holdout, pool = frame.iloc[:5000], frame.iloc[5000:10_000], frame.iloc[10_000:]
    model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train[TARGET])
    estimator = fit_estimator(model, holdout, TARGET, "classification", "accuracy")
    return model, estimator, pool.reset_index(drop=True)


def served(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` as the inference log has them: prediction, its probability, every class's probability."""
    proba = model.predict_proba(rows[FEATURES])
    return pd.DataFrame(
        {
            "request_id": [f"r-{i}" for i in range(len(rows))],
            "prediction": model.classes_[proba.argmax(axis=1)],
            "probability": proba.max(axis=1),
            "probabilities": [list(p) for p in proba],
        }
    )


def realised(model: Any, rows: pd.DataFrame) -> dict[str, float]:
    proba = model.predict_proba(rows[FEATURES])
    pred, truth = model.classes_[proba.argmax(axis=1)], rows[TARGET].to_numpy()
    return {
        "accuracy": float(accuracy_score(truth, pred)),
        "f1": float(f1_score(truth, pred, average="macro")),
        "roc_auc": float(roc_auc_score(truth, proba, multi_class="ovr", average="macro")),
        "log_loss": float(log_loss(truth, proba, labels=model.classes_)),
    }


def low_confidence(model: Any, pool: pd.DataFrame, n: int) -> pd.DataFrame:
    """A covariate shift: ``n`` rows drawn with a preference for those the model is unsure of — P(y|x)
    unchanged, which is what CBPE assumes."""
    confidence = model.predict_proba(pool[FEATURES]).max(axis=1)
    weights = np.exp(-8 * (confidence - confidence.min()))
    idx = np.random.default_rng(0).choice(len(pool), n, replace=False, p=weights / weights.sum())
    return pool.iloc[idx].reset_index(drop=True)


def test_estimates_on_a_same_distribution_window_match_the_realised_metrics(problem) -> None:
    model, estimator, pool = problem
    rows = pool.iloc[:20_000]
    est = estimator.estimate(served(model, rows))
    real = realised(model, rows)
    assert set(est.metrics) == {"accuracy", "f1", "roc_auc", "log_loss"}
    assert est.rows == 20_000 and est.dropped == 0
    for metric, value in real.items():
        assert est.metrics[metric] == pytest.approx(value, abs=0.03), metric
        low, high = est.band[metric]
        assert low < est.metrics[metric] < high and high - low < 0.05


def test_under_a_covariate_shift_the_estimates_drop_with_the_realised_metrics(problem) -> None:
    model, estimator, pool = problem
    same = estimator.estimate(served(model, pool.iloc[:20_000])).metrics
    rows = low_confidence(model, pool, 20_000)
    est = estimator.estimate(served(model, rows)).metrics
    real = realised(model, rows)
    assert real["accuracy"] < same["accuracy"] - 0.08  # the shift really hurts the model
    for metric, value in real.items():
        worse = est[metric] - same[metric] if metric == "log_loss" else same[metric] - est[metric]
        assert worse > 0.03, metric
        assert est[metric] == pytest.approx(value, abs=0.04), metric


def test_an_estimator_pickled_before_the_per_class_calibration_still_estimates_accuracy(problem) -> None:
    model, estimator, pool = problem
    old = PerformanceEstimator(
        estimator.task, estimator.primary_metric, estimator.classes, estimator.calibration
    )
    del old.__dict__["class_calibration"]  # the state an estimator pickled before the field has
    revived = pickle.loads(pickle.dumps(old))
    assert "class_calibration" not in vars(revived) and revived.class_calibration is None
    rows = pool.iloc[:5000]
    est = revived.estimate(served(model, rows))
    assert set(est.metrics) == {"accuracy"}
    assert est.metrics["accuracy"] == pytest.approx(realised(model, rows)["accuracy"], abs=0.03)


def test_a_window_without_probabilities_gets_accuracy_only(problem) -> None:
    model, estimator, pool = problem
    rows = pool.iloc[:5000]
    est = estimator.estimate(served(model, rows).drop(columns=["probabilities"]))
    assert set(est.metrics) == {"accuracy"} and est.dropped == 0
    assert est.metrics["accuracy"] == pytest.approx(realised(model, rows)["accuracy"], abs=0.03)


def test_bad_vectors_are_dropped_and_counted(problem) -> None:
    model, estimator, pool = problem
    window = served(model, pool.iloc[:3000])
    vectors = window["probabilities"].tolist()
    vectors[0], vectors[1], vectors[2], vectors[3] = None, [0.5, 0.5], [np.nan, 0.2, 0.3, 0.5], "junk"
    est = estimator.estimate(window.assign(probabilities=vectors))
    assert est.rows == 2996 and est.dropped == 4
    assert set(est.metrics) == {"accuracy", "f1", "roc_auc", "log_loss"}
    # none usable: the accuracy-only path, or the old error when the predicted class's probability is gone
    nothing = window.assign(probabilities=[None] * len(window))
    assert set(estimator.estimate(nothing).metrics) == {"accuracy"}
    with pytest.raises(DataError, match="probability"):
        estimator.estimate(nothing.drop(columns=["probability"]))


def test_a_window_mostly_without_vectors_gets_the_accuracy_only_estimate_over_every_row(problem) -> None:
    """Just after a server upgrade most of a window was logged without `probabilities`: estimating from
    the few new rows would throw the others away, so accuracy comes from every row."""
    model, estimator, pool = problem
    rows = pool.iloc[:4000]
    window = served(model, rows)
    window["probabilities"] = [v if i >= 3000 else None for i, v in enumerate(window["probabilities"])]
    est = estimator.estimate(window)
    assert set(est.metrics) == {"accuracy"} and est.rows == 4000 and est.dropped == 3000


def test_a_class_too_rare_in_the_window_leaves_roc_auc_out_rather_than_unbanded(problem) -> None:
    """A class expected less than once has no ROC AUC error: the estimate leaves roc_auc out instead of
    giving a value without a band, which the drop check would judge on its point value."""
    model, estimator, pool = problem
    proba = model.predict_proba(pool[FEATURES])
    rare = model.classes_[0]
    keep = proba[:, 0] < 0.002  # rows the model is sure are not class 0
    rows = pool[keep].iloc[:150]
    est = estimator.estimate(served(model, rows))
    assert "roc_auc" not in est.metrics and "roc_auc" not in est.band, rare
    assert set(est.band) == set(est.metrics) == {"accuracy", "f1", "log_loss"}


def test_vectors_read_back_from_a_csv_are_json_text() -> None:
    matrix, ok = probability_matrix(["[0.2, 0.8]", "[0.5]", None, "[0.1, 1.5]"], 2)
    assert ok.tolist() == [True, False, False, False] and matrix[0].tolist() == [0.2, 0.8]


def test_measure_gives_roc_auc_and_log_loss_with_probabilities(problem) -> None:
    model, _, pool = problem
    rows = pool.iloc[:4000]
    proba = model.predict_proba(rows[FEATURES])
    truth, pred = rows[TARGET].to_numpy(), model.classes_[proba.argmax(axis=1)]
    classes = model.classes_.tolist()
    out, se = measure("classification", truth, pred, proba.max(axis=1), classes, proba)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(truth, proba, multi_class="ovr"), abs=1e-12)
    assert out["log_loss"] == pytest.approx(log_loss(truth, proba, labels=classes), abs=1e-9)
    assert 0 < se["roc_auc"] < 0.02 and 0 < se["log_loss"] < 0.05
    # a class without a label in the window: no one-vs-rest AUC for it, so no macro AUC; log loss stays
    seen = truth != classes[-1]
    out, se = measure("classification", truth[seen], pred[seen], None, classes, proba[seen])
    assert "roc_auc" not in out and "roc_auc" not in se and np.isfinite(out["log_loss"])
    # without the vectors (an older log): neither
    out, _ = measure("classification", truth, pred, proba.max(axis=1), classes)
    assert "roc_auc" not in out and "log_loss" not in out


def test_check_performance_wires_the_probabilities_to_measure_and_estimate(problem) -> None:
    model, estimator, pool = problem
    rows = pool.iloc[:3000]
    window = served(model, rows)
    labels = pd.DataFrame({"request_id": window["request_id"], "label": rows[TARGET].to_numpy()})
    definition = types.SimpleNamespace(
        performance_metric="roc_auc", performance_drop=0.05, min_labels=100, target=None
    )
    result = check_performance(
        window,
        definition,  # type: ignore[arg-type]
        reference={"roc_auc": 0.95},
        task="classification",
        primary_metric="accuracy",
        labels=labels,
        estimator=estimator,
    )
    assert result.actual is not None and result.estimated is not None
    assert {"roc_auc", "log_loss", "accuracy", "f1"} <= set(result.actual)
    assert result.actual["roc_auc"] == pytest.approx(realised(model, rows)["roc_auc"], abs=1e-9)
    assert result.estimated["roc_auc"] == pytest.approx(result.actual["roc_auc"], abs=0.03)
    assert result.notes == []


def test_the_window_keeps_the_logged_probabilities_as_a_log_field() -> None:
    records = [
        {"f0": 1.0, "prediction": 2, "probability": 0.7, "probabilities": [0.1, 0.2, 0.7], "model": "m"},
        {"f0": 2.0, "prediction": 1, "probability": 0.6, "model": "m"},  # binary-style: no vector
    ]
    assert "probabilities" not in frame_from_records(records, "m", "prediction").columns
    frame = frame_from_records(records, "m", "prediction", log_fields=True)
    assert frame["probabilities"].iloc[0] == [0.1, 0.2, 0.7] and frame["probabilities"].isna().iloc[1]


# --- serving: the inference-log record ------------------------------------------------------------


class _Sink:
    """Stands in for the inference log (a queue onto Kafka): keeps what the service submits."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def submit(self, record: dict[str, Any]) -> bool:
        self.records.append(record)
        return True

    def depth(self) -> int:
        return 0


def _service(model: Any) -> tuple[PredictionService, _Sink]:
    loaded = LoadedModel("m", "v1", model)
    slots = types.SimpleNamespace(
        model="m", champion=loaded, canary=None, plan=None, pinned=None, follow=("champion",), errors={}
    )
    settings = types.SimpleNamespace(serving=types.SimpleNamespace(canary_fraction=0.0))
    sink = _Sink()
    return PredictionService(settings, slots, sink, ServingMetrics()), sink  # type: ignore[arg-type]


def _fitted(classes: int) -> LogisticRegression:
    x, y = make_classification(
        n_samples=600, n_features=4, n_informative=3, n_redundant=0, n_classes=classes, random_state=1
    )
    return LogisticRegression(max_iter=500).fit(pd.DataFrame(x, columns=FEATURES[:4]), y)


def test_a_multiclass_models_log_record_carries_every_class_probability() -> None:
    model = _fitted(3)
    service, sink = _service(model)
    instances = [{"f0": 0.1 * i, "f1": -0.2, "f2": 1.0 - i, "f3": 0.5} for i in range(5)]
    status, reply = service.predict_rows(instances, "r")
    assert status == 200 and len(sink.records) == 5
    # the client's answer is what it always was: the predicted class and its probability
    preds, probas, _ = service.slots.champion.predict(instances)
    assert reply["predictions"] == preds and reply["probabilities"] == probas
    assert all(isinstance(p, float) for p in reply["probabilities"])
    full = model.predict_proba(pd.DataFrame(instances))
    for rec, row in zip(sink.records, full, strict=True):
        vector = rec["probabilities"]
        assert len(vector) == 3 and sum(vector) == pytest.approx(1.0, abs=1e-5)
        assert vector == pytest.approx(row.tolist(), rel=1e-5, abs=1e-9)
        assert rec["probability"] == pytest.approx(max(vector), rel=1e-5)


def test_a_binary_models_log_record_is_unchanged() -> None:
    service, sink = _service(_fitted(2))
    status, _ = service.predict_rows([{"f0": 0.3, "f1": -0.2, "f2": 1.0, "f3": 0.5}], "r")
    assert status == 200
    (rec,) = sink.records
    assert "probabilities" not in rec and 0.5 <= rec["probability"] <= 1
    assert set(rec) == {*FEATURES[:4], "prediction", "probability", "model", "model_version"} | {
        "request_id",
        "timestamp",
        "latency_ms",
    }


def test_a_multiclass_shadow_record_carries_the_probabilities_too() -> None:
    sink = _Sink()
    runner = ShadowRunner(ServingMetrics(), functools.partial(log_records, sink))  # type: ignore[arg-type]
    challenger = LoadedModel("m", "v2", _fitted(4))
    runner._mirror(ShadowJob(challenger, [{"f0": 0.3, "f1": -0.2, "f2": 1.0, "f3": 0.5}], ["r"]))
    (rec,) = sink.records
    assert rec["route"] == "shadow" and len(rec["probabilities"]) == 4
    assert sum(rec["probabilities"]) == pytest.approx(1.0, abs=1e-5)
