"""Bring your own model, on the real embedded Kafka + S3: user code that lives outside the repository.

(``driftloop init`` → ``up`` → ``retrain``, as a user types them, is the README's block: test_readme.py.)

* A custom estimator class the project has never seen, in a module in a temporary directory, through the
  model's own compiled retrain template in the local executor; a trainer that raises and one that returns
  an object without ``predict`` fail the run, the outcome event names the step and the reason, and the
  champion is unchanged.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftloop.config import load_settings
from driftloop.events import RETRAIN_FAILED, RETRAIN_SUCCEEDED, CloudEvent
from driftloop.modelspec import example_spec
from driftloop.registry import Registry
from driftloop.s3 import S3Store

pytestmark = pytest.mark.integration

DRIFTLOOP = [sys.executable, "-m", "driftloop"]

CUSTOM = '''
"""A team's own model: not scikit-learn, not known to driftloop."""
import numpy as np


class NearestMean:
    """Predicts the mean target of the nearest of k price bands."""

    def __init__(self, bands):
        self.bands = bands

    def fit(self, x, y):
        self.edges_ = np.quantile(x["price"], np.linspace(0, 1, self.bands + 1)[1:-1])
        idx = np.searchsorted(self.edges_, x["price"])
        self.means_ = np.array([y[idx == i].mean() for i in range(self.bands)])
        return self

    def predict(self, x):
        return self.means_[np.searchsorted(self.edges_, x["price"])]


def train(data, target, params):
    if params.get("fail"):
        raise RuntimeError("the feature store is down")
    if params.get("no_predict"):
        return object()
    return NearestMean(int(params.get("bands", 8))).fit(data.drop(columns=[target]), data[target])
'''


@pytest.fixture
def custom(stack, bucket, clean_env, tmp_path: Path, monkeypatch):
    code = tmp_path / "team-code"
    code.mkdir()
    (code / "price_model.py").write_text(textwrap.dedent(CUSTOM))
    from driftloop.demo.examples.demand.demand_model import make_demand

    data = tmp_path / "demand.csv"
    make_demand(1500, seed=5).drop(columns=["store_size"]).to_csv(data, index=False)
    spec = {
        "task": "regression",
        "dataset": str(data),
        "target": "units",
        "trainer": "price_model:train",
        "code_dir": str(code),
        "params": {"bands": 8},
        "metrics": {"primary": "mae", "gate_margin": 1.0},
    }
    overrides = {**stack.overrides, "s3.bucket": bucket, "data_dir": str(tmp_path / "data")}
    overrides["topics.outcomes"] = f"outcomes-{bucket}"
    settings = load_settings(env={}, overrides={**overrides, "models": {"pricing": spec}})
    return settings


def _run(settings, params: dict[str, str]):
    from driftloop.local.runs import run_local
    from workflows.retrain import admission_task, build_retrain

    template = build_retrain(settings, "pricing", first_task=admission_task).to_dict()
    return run_local(template, {"model": "pricing", "reason": "manual", **params}, settings)


def test_custom_estimator_from_outside_the_repository(custom) -> None:
    from driftloop.kafka import read_recent

    settings = custom
    registry = Registry(S3Store(settings))
    good = _run(settings, {})
    phases = {n.display_name: n.phase for n in good.nodes}
    assert good.phase == "Succeeded", (good.message, phases)
    assert registry.get_alias("pricing", "champion") == "v1"
    gate = registry.get("pricing", "v1").lineage["gate"]
    assert gate["metric"] == "mae" and gate["lower_is_better"] is True

    raised = _run(settings, {"params": '{"fail": true}'})
    assert raised.phase == "Failed"
    no_predict = _run(settings, {"params": '{"no_predict": true}'})
    assert no_predict.phase == "Failed"
    assert registry.get_alias("pricing", "champion") == "v1" and len(registry.versions("pricing")) == 1

    events = {}
    for rec in read_recent(settings, settings.topics.outcomes):
        ev = CloudEvent.parse(rec.value)
        events[ev.data["workflow_name"]] = ev
    assert events[good.name].type == RETRAIN_SUCCEEDED
    failed = events[raised.name]
    assert failed.type == RETRAIN_FAILED and failed.data["failed_step"] == "train"
    assert "raised RuntimeError: the feature store is down" in failed.data["failure_reason"]
    failed = events[no_predict.name]
    assert failed.data["failed_step"] == "train" and "has no predict()" in failed.data["failure_reason"]


def _served_prediction(settings, model: str, rows: list[dict]) -> dict:
    import httpx

    from driftloop.serving import ModelServer

    with (
        ModelServer(settings, model, port=0, poll_s=0.2) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        r = http.post(f"/v1/models/{model}/predict", json={"instances": rows})
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_multiclass_and_regression_models_train_gate_and_serve(
    stack, bucket, clean_env, tmp_path: Path
) -> None:
    """A three-class classifier (roc_auc one-vs-rest) and the regressor with a custom class and a
    preprocess function: each passes the gate, becomes champion v1 and is served."""
    import pandas as pd

    from driftloop.demo.examples.demand.demand_model import make_demand
    from monitors.datasets import make_credit

    credit = make_credit(2000, seed=7)
    tiers = pd.cut(credit["income"], 3, labels=["low", "mid", "high"]).astype(str)
    tiers_csv = tmp_path / "tiers.csv"
    credit.drop(columns=["default"]).assign(tier=tiers).to_csv(tiers_csv, index=False)
    demand_csv = tmp_path / "demand.csv"
    make_demand(1500, seed=2).to_csv(demand_csv, index=False)
    models = {
        "tiers": {
            "task": "classification",
            "dataset": str(tiers_csv),
            "target": "tier",
            "trainer": "credit_model:train",
            "code_dir": str(Path(__file__).resolve().parents[2] / "driftloop/demo/examples/credit"),
            "params": {"algorithm": "logreg"},
            "metrics": {"primary": "roc_auc", "min_score": 0.8},
        },
        "demand": {**example_spec("demand"), "dataset": str(demand_csv)},  # the example, on a local table
    }
    overrides = {**stack.overrides, "s3.bucket": bucket, "data_dir": str(tmp_path / "data"), "models": models}
    settings = load_settings(env={}, overrides=overrides)
    registry = Registry(S3Store(settings))
    from driftloop.local.runs import run_local
    from workflows.retrain import admission_task, build_retrain

    for model in ("tiers", "demand"):
        template = build_retrain(settings, model, first_task=admission_task).to_dict()
        result = run_local(template, {"model": model, "reason": "manual"}, settings)
        assert result.phase == "Succeeded", (
            model,
            result.message,
            [(n.display_name, n.phase) for n in result.nodes],
        )
        assert registry.get_alias(model, "champion") == "v1", model
    gate = registry.get("tiers", "v1").lineage["gate"]
    assert gate["metric"] == "roc_auc" and gate["challenger"] > 0.8 and gate["lower_is_better"] is False
    assert registry.get("demand", "v1").lineage["gate"]["lower_is_better"] is True

    row = credit.drop(columns=["default"]).head(3).to_dict(orient="records")
    out = _served_prediction(settings, "tiers", row)
    assert set(out["predictions"]) <= {"low", "mid", "high"} and len(out["probabilities"]) == 3
    assert all(0.0 < p <= 1.0 for p in out["probabilities"])
    demand_rows = make_demand(3, seed=9).drop(columns=["units"]).to_dict(orient="records")
    out = _served_prediction(settings, "demand", demand_rows)
    assert all(isinstance(p, float) and p >= 0 for p in out["predictions"]) and "probabilities" not in out
