"""`driftloop init` scaffolds what a model needs locally and on a cluster; `driftloop compile` warns when a
model with the user's own code names no image (its steps would run driftloop's stock image)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.test_cli import run
from workflows.pod import DEFAULT_IMAGE


def test_init_writes_a_dockerfile_and_compile_warns_until_the_model_has_an_image(tmp_path: Path) -> None:
    made = run("init", "demand", "--task", "regression", "--rows", "200", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert {p.name for p in tmp_path.iterdir()} >= {"demand_model.py", "data", "driftloop.yaml", "Dockerfile"}
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert f"FROM {DEFAULT_IMAGE}" in dockerfile
    assert "COPY --chown=10001:10001 demand_model.py /opt/model/" in dockerfile
    assert "ENV PYTHONPATH=/opt/model" in dockerfile

    compiled = run("compile", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    assert "warning: model demand has no `image:`" in compiled.stderr
    assert (tmp_path / "manifests/base/generated/workflows/driftloop-retrain-demand.yaml").is_file()

    config = yaml.safe_load((tmp_path / "driftloop.yaml").read_text())
    config["models"]["demand"]["image"] = "registry.example.com/demand:0.1.0"
    (tmp_path / "driftloop.yaml").write_text(yaml.safe_dump(config))
    again = run("compile", cwd=tmp_path)
    assert again.returncode == 0 and "warning" not in again.stderr, again.stderr
    template = (tmp_path / "manifests/base/generated/workflows/driftloop-retrain-demand.yaml").read_text()
    assert "image: registry.example.com/demand:0.1.0" in template


def test_the_built_in_example_needs_no_image_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "driftloop.yaml").write_text("models: [credit]\n")
    compiled = run("compile", cwd=tmp_path)
    assert compiled.returncode == 0 and "warning" not in compiled.stderr, compiled.stderr
