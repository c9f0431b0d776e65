"""Argo's own rules in the local executor: template-level ``annotations`` (Argo 4's display name) are
accepted and name the node; with the Argo CLI on PATH, what ``argo lint --offline`` refuses is refused
before anything runs, with Argo's message."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.errors import WorkflowError
from driftloop.local.executor import run_workflow
from driftloop.local.executor.argolint import argo_cli
from tests.engines.linters import BIN, INSTALL
from tests.unit.executor_helpers import sh, workflow


def _run(tmp_path: Path, wf: dict[str, Any]) -> Any:
    return run_workflow(wf, None, load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")}))


@pytest.fixture
def argo_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    if not (BIN / "argo").is_file():
        pytest.fail(f"{BIN / 'argo'} is missing — run `{INSTALL}`", pytrace=False)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "argo").symlink_to(BIN / "argo")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    argo_cli.cache_clear()
    yield
    argo_cli.cache_clear()


@pytest.fixture
def no_argo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    argo_cli.cache_clear()
    assert shutil.which("argo") is None
    yield
    argo_cli.cache_clear()


def test_a_template_annotation_names_the_node(tmp_path: Path, no_argo: None) -> None:
    say = sh("say", "echo hi", inputs={"parameters": [{"name": "who"}]})
    say["annotations"] = {"workflows.argoproj.io/display-name": "greet {{inputs.parameters.who}}"}
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "a",
                    "template": "say",
                    "arguments": {"parameters": [{"name": "who", "value": "world"}]},
                }
            ]
        },
    }
    result = _run(tmp_path, workflow([main, say]))
    assert result.phase == "Succeeded"
    node = next(n for n in result.nodes if n.name == "t.a")
    assert node.display_name == "greet world"
    assert node.label == "t.a (greet world)"


def _any_succeeded() -> dict[str, Any]:
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "ok"},
                {"name": "b", "template": "ok", "depends": "a.AnySucceeded"},
            ]
        },
    }
    return workflow([main, sh("ok", "true")])


def test_what_argo_refuses_at_submit_is_refused_with_argos_message(
    tmp_path: Path, argo_on_path: None
) -> None:
    with pytest.raises(WorkflowError) as err:
        _run(tmp_path, _any_succeeded())
    assert "argo lint refuses the workflow" in err.value.message
    assert "uses an items-based condition such as .AnySucceeded" in err.value.message
    assert not (tmp_path / "data" / "runs").exists()  # refused before anything ran


def test_argo_lint_passes_a_valid_workflow(tmp_path: Path, argo_on_path: None) -> None:
    assert _run(tmp_path, workflow([sh("main", "true")])).phase == "Succeeded"
