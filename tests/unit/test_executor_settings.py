"""A workflow step runs with the configuration of the command that started it — flags included."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import load_settings
from driftloop.local.runs import run_local

WF = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "settings-probe"},
    "spec": {
        "entrypoint": "probe",
        "templates": [
            {
                "name": "probe",
                "script": {
                    "image": "python:3.11",
                    "command": ["python"],
                    "source": "import os\n"
                    "from driftloop.config import load_settings\n"
                    "s = load_settings()\n"
                    "pw = s.kafka.sasl_password.get_secret_value()\n"
                    "mode = oct(os.stat(os.environ['DRIFTLOOP_CONFIG']).st_mode & 0o777)\n"
                    "print(s.s3.bucket, pw, s.data_dir.is_absolute(), mode)\n",
                },
            }
        ],
    },
}


def test_step_sees_the_runs_settings_not_the_inherited_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_S3__BUCKET", "from-env")
    settings = load_settings(
        env={},
        overrides={"s3.bucket": "from-flag", "kafka.sasl_password": "pw", "data_dir": str(tmp_path / "d")},
    )
    result = run_local(WF, {}, settings)
    assert result.phase == "Succeeded", result.to_json()
    assert result.nodes[-1].result == "from-flag pw True 0o600"  # the run's copy: the owner's only ...
    assert list((Path(settings.data_dir) / "runs").rglob("config.yaml")) == []  # ... and gone after the run


def test_a_template_run_twice_gets_two_generated_names(tmp_path: Path) -> None:
    template = {**WF, "kind": "WorkflowTemplate", "metadata": {"name": "probe-template"}}
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path / "d")})
    first, second = run_local(template, {}, settings), run_local(template, {}, settings)
    assert first.name.startswith("probe-template-") and second.name.startswith("probe-template-")
    assert first.name != second.name
    assert first.record_path != second.record_path
