"""A step's failure, as its user sees it: a configuration, usage or data error exits with the code the
templates' retryStrategy does not retry, and leaves its one-line reason as the termination message; a
retriable error (a service away) exits 1 and is retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.contracts import NO_RETRY_EXIT, NO_RETRY_EXPRESSION
from driftloop.errors import ConfigError, ConnectionError_, DataError
from driftloop.local.executor import run_workflow
from tests.unit.executor_helpers import sh, workflow
from workflows import entrypoints
from workflows.pod import IO_RETRY


def _retried(code: int) -> dict:
    retry = {"limit": "3", "retryPolicy": "Always", "expression": NO_RETRY_EXPRESSION}
    return sh("main", f"exit {code}", retryStrategy=retry)


def test_a_no_retry_exit_is_not_retried_a_failure_is(settings) -> None:
    assert IO_RETRY["expression"] == NO_RETRY_EXPRESSION  # what every retried step of ours carries
    once = run_workflow(workflow([_retried(NO_RETRY_EXIT)]), {}, settings)
    assert once.phase == "Failed" and [n.name for n in once.nodes] == ["t", "t(0)"]
    assert once.nodes[0].message == "retryStrategy.expression evaluated to false"
    again = run_workflow(workflow([_retried(1)]), {}, settings)
    assert [n.name for n in again.nodes] == ["t", "t(0)", "t(1)", "t(2)", "t(3)"]


def _raise(exc: Exception):
    def step(settings, **kwargs):
        raise exc

    return step


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("config file x does not exist", "fix --config"), NO_RETRY_EXIT),
        (DataError("column y is missing", "add it"), NO_RETRY_EXIT),
        (ConnectionError_("S3 at http://s3 is unreachable", "start it"), 1),
    ],
)
def test_a_step_error_is_one_line_an_exit_code_and_a_termination_message(
    error, code, tmp_path: Path, monkeypatch, capsys, clean_env
) -> None:
    message = tmp_path / "termination-log"
    monkeypatch.setenv("DRIFTLOOP_TERMINATION_LOG", str(message))
    monkeypatch.setenv("DRIFTLOOP_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SystemExit) as ended:
        entrypoints._call("admit", _raise(error))
    assert ended.value.code == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {error}"
    assert message.read_text() == str(error)


def test_no_termination_log_is_created_on_a_host_that_lacks_one(monkeypatch, clean_env) -> None:
    if Path("/dev/termination-log").exists():
        pytest.skip("this host has a /dev/termination-log (a Kubernetes pod)")
    entrypoints.termination_message("x")
    assert not Path("/dev/termination-log").exists()
