"""The model specification: the keys users rely on, the list sugar for built-in examples, and one-line
errors naming the model and the key at `config show`, `compile` and `up`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftloop.config import load_settings
from driftloop.errors import ConfigError
from tests.conftest import cli_env, driftloop

SPEC = {
    "task": "regression",
    "dataset": "data/demand.csv",
    "target": "units",
    "trainer": "demand_model:train",
    "code_dir": ".",
    "params": {"alpha": 0.5},
    "metrics": {"primary": "mae", "gate_margin": 0.02},
    "monitor": {"drift_share": 0.5, "schedule": "0 * * * *"},
    "retrain_schedule": "0 3 * * 0",
    "image": "registry.example.com/demand-train:1.4",
    "canary": {"min_labels": 50},
}


def _write(tmp_path: Path, models: object) -> Path:
    (tmp_path / "demand_model.py").write_text(
        "def train(data, target, params):\n    raise NotImplementedError\n"
    )
    path = tmp_path / "driftloop.yaml"
    path.write_text(yaml.safe_dump({"models": models}))
    return path


def test_the_documented_keys_load_and_paths_follow_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, {"demand": SPEC}), env={})
    spec = settings.model("demand")
    assert spec.task == "regression" and spec.primary_metric == "mae" and spec.min_score is None
    assert spec.code_dir == tmp_path and spec.dataset == str(tmp_path / "data/demand.csv")
    assert spec.monitor_schedule == "0 * * * *" and spec.monitor_definition() == {"drift_share": 0.5}
    assert settings.canary_for("demand").min_labels == 50 and settings.canary.min_labels == 30
    assert spec.monitor_for("demand").drift_share == 0.5 and spec.monitor_for("demand").target == "units"
    assert spec.canary.min_labels == 50 and spec.canary.model_fields_set == {"min_labels"}


def test_list_sugar_names_built_in_examples() -> None:
    settings = load_settings(env={}, overrides={"models": "credit,demand"})
    assert settings.model("credit").task == "classification" and settings.model("demand").task == "regression"
    with pytest.raises(ConfigError, match="'churn' is not a built-in example"):
        load_settings(env={}, overrides={"models": "churn"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trainr": "x"}, "unknown setting 'models.demand.trainr'"),
        ({"metrics": {"primary": "roc_auc"}}, "metrics.primary 'roc_auc' does not fit task regression"),
        ({"trainer": "not a reference"}, "is not module:function"),
        ({"canary": {"min_lables": 5}}, "unknown setting 'models.demand.canary.min_lables'"),
        ({"canary": {"min_labels": "many"}}, "invalid value for 'models.demand.canary.min_labels'"),
        ({"monitor": {"drift_shar": 0.5}}, "unknown setting 'models.demand.monitor.drift_shar'"),
        ({"monitor": {"drift_share": 2}}, "invalid value for 'models.demand.monitor.drift_share'"),
        ({"monitor": {"schedule": "hourly"}}, "schedule must be a 5-field cron expression"),
    ],
)
def test_bad_specs_are_config_errors_naming_the_model_and_key(tmp_path: Path, change, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_write(tmp_path, {"demand": {**SPEC, **change}}), env={})


def test_bad_model_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an RFC 1123 label"):
        load_settings(_write(tmp_path, {"Demand_Model": SPEC}), env={})


@pytest.mark.parametrize("command", [["config", "show"], ["compile", "-o", "out"]])
def test_a_trainer_that_cannot_be_imported_is_one_line_at_config_show_and_compile(
    tmp_path: Path, command
) -> None:
    _write(tmp_path, {"demand": {**SPEC, "trainer": "nosuchmodule:train"}})
    out = driftloop(*command, env=cli_env(), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "models.demand.trainer: cannot import 'nosuchmodule'" in lines[0]


def test_up_checks_the_models_code_before_starting_anything(tmp_path: Path) -> None:
    _write(tmp_path, {"demand": {**SPEC, "trainer": "demand_model:nope"}})
    out = driftloop("up", "--once", env=cli_env({"data_dir": tmp_path / "state"}), cwd=tmp_path)
    assert (
        out.returncode == 2 and "models.demand.trainer: 'demand_model' has no function 'nope'" in out.stderr
    )
    assert not (tmp_path / "state" / "stack.json").exists()


def test_a_user_model_named_like_an_example_is_the_users_own(tmp_path: Path) -> None:
    """`driftloop init demand` writes a spec named like the built-in example: nothing of the example
    (its preprocess, its monitor) may leak into it; only an empty entry means the example."""
    mine = {"task": "regression", "target": "y", "trainer": "demand_model:train"}
    spec = load_settings(_write(tmp_path, {"demand": mine}), env={}).model("demand")
    assert spec.preprocess == "" and spec.monitor_definition() == {} and spec.target == "y"
    for empty in (None, {}):
        example = load_settings(_write(tmp_path, {"demand": empty}), env={}).model("demand")
        assert example.preprocess == "demand_model:preprocess" and example.target == "units"
