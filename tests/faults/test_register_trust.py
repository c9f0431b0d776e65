"""The signing ``register`` step trusts nothing the user's code could have shaped — on the real embedded S3.

``evaluate`` runs the user's image without the signing key; what it hands on (its scores, the fitted
estimator) is unsigned. ``register`` holds the key, so: it never unpickles the challenger (a pickle that
runs a command is registered as bytes and the command never runs here), it recomputes the gate from the
scores with the run's own parameters (a scores file that says ``passed`` for a model under the bar
registers nothing), and the champion the scores were measured against must be the registry's own.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from driftloop.errors import IntegrityError
from driftloop.registry import Registry
from monitors.datasets import TARGET, make_credit
from tests.faults.hostile import Boom

pytestmark = pytest.mark.integration


def _scores(accuracy: float, champion: dict[str, float] | None = None, champion_version: str = "") -> bytes:
    challenger = {"roc_auc": 0.9, "accuracy": accuracy, "f1": 0.8, "log_loss": 0.3}
    return json.dumps(
        {
            "verdict": "passed",  # what a tampering evaluate would claim, whatever the numbers say
            "challenger": challenger,
            "champion": champion,
            "champion_version": champion_version,
            "holdout_rows": 100,
            "estimator_class": "Boom",
        }
    ).encode()


def _register(registry: Registry, tmp_path: Path, model_bytes: bytes, scores: bytes) -> dict[str, Any]:
    from workflows.steps.register import register

    train = tmp_path / "train.parquet"
    if not train.exists():
        make_credit(300, seed=1).to_parquet(train)
    (tmp_path / "challenger").write_bytes(model_bytes)
    (tmp_path / "scores.json").write_bytes(scores)
    (tmp_path / "estimator").write_bytes(b"")
    return register(
        registry.store.settings,
        model="credit",
        model_file=tmp_path / "challenger",
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),  # train's output parameter
        scores_file=tmp_path / "scores.json",
        estimator_file=tmp_path / "estimator",
        train_uri=str(train),
        holdout_uri=str(train),
        metrics_path=tmp_path / "registration.json",
        profile_path=tmp_path / "profile.bin",
        task="classification",
        target=TARGET,
        primary_metric="accuracy",
        gate_margin=0.02,
        min_score=0.7,
        workflow_name="run",
        workflow_uid="",
    )


def test_register_stores_the_challenger_without_unpickling_it(registry: Registry, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Boom(marker))
    result = _register(registry, tmp_path, evil, _scores(0.9))
    assert result["verdict"] == "passed" and result["version"] == "v1"
    assert not marker.exists(), "register ran the challenger's code"
    assert registry.get("credit", "v1").lineage["estimator"] == "Boom"
    # registered as train wrote it (the signed record carries its sha256); loading it is the server's
    # business, in its own keyless process
    assert registry.get("credit", "v1").sha256 == hashlib.sha256(evil).hexdigest()


def test_register_recomputes_the_gate_from_the_scores(registry: Registry, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    buf = pickle.dumps(DummyClassifier().fit([[0], [1]], [0, 1]))
    result = _register(registry, tmp_path, buf, _scores(0.5))  # "passed", but under min_score 0.7
    assert result["verdict"] == "rejected" and result["version"] == ""
    assert registry.versions("credit") == []
    assert json.loads((tmp_path / "registration.json").read_text())["verdict"] == "rejected"


def test_register_refuses_scores_against_another_champion(registry: Registry, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    model = pickle.dumps(DummyClassifier().fit([[0], [1]], [0, 1]))
    registry.register("credit", model)
    registry.promote("credit", "v1")
    # scores that leave the champion out (gating on min_score only) are refused
    with pytest.raises(IntegrityError, match="registry's champion of credit is v1") as refused:
        _register(registry, tmp_path, model, _scores(0.9))
    assert refused.value.exit_code == 2  # NO_RETRY_EXIT: a retry would read the same files
    with pytest.raises(IntegrityError, match="not the metrics of a classification model"):
        _register(registry, tmp_path, model, _scores(0.9, {"accuracy": 0.1}, "v1"))
    with pytest.raises(IntegrityError, match="not JSON"):
        _register(registry, tmp_path, model, b"\x80 not json")
    assert [v.version for v in registry.versions("credit")] == ["v1"]
