"""Acceptance of the retrain pipeline on the embedded S3 (and Kafka for the outcome event).

1. The step functions, called directly: a retrain from a data set on S3 yields a registry version with
   lineage; a second run with a deliberately worse model (leaves larger than the data set, so the model
   predicts the base rate) is rejected by the gate and the champion is unchanged.
2. The compiled ``driftloop-retrain`` WorkflowTemplate (the committed YAML) in the local executor, runner
   steps as ``python -m hera.workflows.runner`` processes: the first run is promoted, the worse one is
   rejected, and the exit handler publishes both outcome CloudEvents to Kafka.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from driftloop.events import RETRAIN_REJECTED, RETRAIN_SUCCEEDED, CloudEvent
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from monitors import ReferenceProfile
from monitors.datasets import make_credit
from tests.conftest import REPO

pytestmark = pytest.mark.integration

WORSE = json.dumps({"min_samples_leaf": 100_000})
MANIFESTS = REPO / "manifests"
#: A run as Argo creates it from the template (what the sensor and `driftloop workflow submit` send).
RUN = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "retrain-credit-"},
    "spec": {"workflowTemplateRef": {"name": "driftloop-retrain-credit"}},
}


@pytest.fixture
def env(stack, bucket, monkeypatch, clean_env, tmp_path):
    """Steps resolve their settings from the environment, as in a pod: point it at the embedded stack."""
    for key, value in {**stack.overrides, "s3.bucket": bucket, "data_dir": str(tmp_path / "data")}.items():
        monkeypatch.setenv("DRIFTLOOP_" + key.upper().replace(".", "__"), str(value))
    from workflows.steps.context import step_settings

    settings = step_settings()
    store = S3Store(settings)
    buf = io.BytesIO()
    make_credit(2000, seed=3).to_parquet(buf, index=False)
    store.put_bytes("datasets/credit/current.parquet", buf.getvalue())
    return settings


def _retrain(tmp: Path, run: str, hyperparameters: str = "") -> dict:
    from workflows.steps import data, evaluate, register, train
    from workflows.steps.context import step_settings

    settings = step_settings()
    spec = settings.model("credit")
    checked = data.validate_data(
        settings, model="credit", dataset_uri="", target=spec.target, task=spec.task, min_rows=spec.min_rows
    )
    parts = data.preprocess(
        settings,
        model="credit",
        dataset_uri=checked["dataset_uri"],
        workflow_name=run,
        target=spec.target,
        task=spec.task,
        holdout_share=spec.holdout_share,
    )
    model_path = tmp / run / "model.joblib"
    params = (
        {"algorithm": "logreg"} if not hyperparameters else {"hyperparameters": json.loads(hyperparameters)}
    )
    trained = train.train(
        settings,
        model="credit",
        train_uri=parts["train_uri"],
        model_path=model_path,
        task=spec.task,
        target=spec.target,
        trainer=spec.trainer,
        params=params,
    )
    gate_args = {
        "model": "credit",
        "model_file": model_path,
        "model_sha256": trained["sha256"],
        "holdout_uri": parts["holdout_uri"],
        "task": spec.task,
        "target": spec.target,
        "primary_metric": spec.primary_metric,
        "gate_margin": spec.metrics.gate_margin,
        "min_score": spec.min_score,
        "workflow_name": run,
    }
    # evaluate scores without the signing key; register recomputes the gate and signs
    evaluate.evaluate(
        settings,
        **gate_args,
        metrics_path=tmp / run / "scores.json",
        estimator_path=tmp / run / "estimator.joblib",
    )
    return register.register(
        settings,
        **gate_args,
        scores_file=tmp / run / "scores.json",
        estimator_file=tmp / run / "estimator.joblib",
        train_uri=parts["train_uri"],
        metrics_path=tmp / run / "metrics.json",
        profile_path=tmp / run / "profile.bin",
        reason="drift",
        event_id=f"evt-{run}",
        dataset_uri=checked["dataset_uri"],
        workflow_uid=f"uid-{run}",
    )


def test_retrain_registers_then_gate_rejects_worse_model(env, tmp_path):
    registry = Registry(S3Store(env))
    first = _retrain(tmp_path, "run-1")
    assert first["verdict"] == "passed" and first["version"] == "v1", first["gate"]
    mv = registry.get("credit", "v1")
    assert mv.lineage["workflow_name"] == "run-1" and mv.lineage["workflow_uid"] == "uid-run-1"
    assert mv.lineage["event_id"] == "evt-run-1" and mv.lineage["reason"] == "drift"
    assert mv.lineage["code_version"].startswith("0.1.0")
    assert mv.lineage["dataset_uri"].endswith("datasets/credit/current.parquet")
    assert [u.rsplit("/", 1)[-1] for u in mv.data_snapshots] == ["train.parquet", "holdout.parquet"]
    store = S3Store(env)
    assert all(store.exists(u.split("/", 3)[3]) for u in mv.data_snapshots)
    profile = ReferenceProfile.from_bytes(registry.get_file("credit", "v1", "reference_profile.bin"))
    assert profile.model_version == "v1" and profile.definition.target == "default"
    _, loaded = registry.load_model("credit", "v1")  # sha256 verified
    assert hasattr(loaded, "predict_proba")
    registry.promote("credit", "v1", reason="test")

    again = _retrain(tmp_path, "run-1")  # a retried register of the same run registers nothing new
    assert again["version"] == "v1" and len(registry.versions("credit")) == 1

    worse = _retrain(tmp_path, "run-2", hyperparameters=WORSE)
    assert worse["verdict"] == "rejected" and worse["version"] == ""
    assert worse["champion_version"] == "v1"
    assert worse["challenger"]["roc_auc"] == pytest.approx(0.5)
    assert worse["champion"]["roc_auc"] - worse["gate"]["margin"] > worse["challenger"]["roc_auc"]
    assert [v.version for v in registry.versions("credit")] == ["v1"]
    assert registry.get_alias("credit", "champion") == "v1"
    metrics = json.loads((tmp_path / "run-2" / "metrics.json").read_text())
    assert metrics["verdict"] == "rejected" and not (tmp_path / "run-2" / "profile.bin").exists()


def test_compiled_template_runs_in_the_local_executor(env, topic, monkeypatch, tmp_path):
    from driftloop.kafka import read_recent
    from driftloop.local.runs import run_local
    from workflows.steps.context import step_settings

    outcomes = topic()
    monkeypatch.setenv("DRIFTLOOP_TOPICS__OUTCOMES", outcomes)
    settings = step_settings()
    registry = Registry(S3Store(settings))

    good = run_local(
        RUN,
        {"model": "credit", "reason": "drift", "event_id": "evt-a", "params": '{"algorithm": "logreg"}'},
        settings,
        templates_dir=MANIFESTS,
    )
    phases = {n.display_name: n.phase for n in good.nodes}
    assert good.phase == "Succeeded", (good.message, phases)
    assert phases["promote"] == "Succeeded" and phases["rollback"] in ("Skipped", "Omitted")
    assert registry.get_alias("credit", "champion") == "v1"
    assert registry.get("credit", "v1").lineage["workflow_name"] == good.name

    worse = run_local(
        RUN,
        {"model": "credit", "reason": "manual", "params": json.dumps({"hyperparameters": json.loads(WORSE)})},
        settings,
        templates_dir=MANIFESTS,
    )
    phases = {n.display_name: n.phase for n in worse.nodes}
    assert worse.phase == "Succeeded", (worse.message, phases)
    assert phases["evaluate"] == "Succeeded" and phases["register"] == "Succeeded"
    assert phases["deploy-canary"] in ("Skipped", "Omitted")
    assert registry.get_alias("credit", "champion") == "v1" and len(registry.versions("credit")) == 1

    events = [CloudEvent.parse(r.value) for r in read_recent(settings, outcomes)]
    by_run = {e.data["workflow_name"]: e for e in events}
    assert by_run[good.name].type == RETRAIN_SUCCEEDED and by_run[good.name].data["version"] == "v1"
    assert by_run[good.name].data["trigger_event_id"] == "evt-a"
    assert by_run[worse.name].type == RETRAIN_REJECTED and by_run[worse.name].data["stage"] == "gate"


def test_registry_cli(env, tmp_path):
    import typer
    from typer.testing import CliRunner

    from driftloop.cli.registry import app as registry_app

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        pass

    app.add_typer(registry_app, name="registry")
    runner = CliRunner()
    _retrain(tmp_path, "run-a")
    _retrain(tmp_path, "run-b")  # same data, same model: within the margin of v1 → v2
    registry = Registry(S3Store(env))
    registry.promote("credit", "v1", reason="test")

    out = runner.invoke(app, ["registry", "list", "credit", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [(r["version"], r["aliases"]) for r in rows] == [("v1", ["champion"]), ("v2", [])]
    assert rows[0]["workflow"] == "run-a" and rows[0]["reason"] == "drift"

    out = runner.invoke(app, ["registry", "show", "credit", "v2", "--json"])
    shown = json.loads(out.stdout)
    assert shown["lineage"]["workflow_uid"] == "uid-run-b" and len(shown["sha256"]) == 64

    out = runner.invoke(app, ["registry", "promote", "credit", "v2", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == {
        "model": "credit",
        "champion": "v2",
        "previous": "v1",
    }
    out = runner.invoke(app, ["registry", "rollback", "credit", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["champion"] == "v1"
    assert registry.get_alias("credit", "champion") == "v1"

    out = runner.invoke(app, ["registry", "show", "credit", "v9"])
    assert out.exit_code != 0 and "has no version 'v9'" in str(out.exception)
    out = runner.invoke(app, ["registry", "list"])
    assert out.exit_code == 0 and "credit" in out.stdout and "champion" in out.stdout
