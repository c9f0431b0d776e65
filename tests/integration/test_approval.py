"""Manual approval in the local executor, on the real embedded Kafka + S3: the compiled retrain template of
a model with ``approval: required`` waits at ``wait-approval``; ``driftloop approve`` promotes,
``driftloop reject`` rolls back, and no decision before the timeout rolls back. Webhooks get the approval
request and the outcome; a dead webhook does not fail the run."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.modelspec import example_spec
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from monitors.datasets import make_credit
from tests.conftest import cli_env, driftloop
from tests.unit.test_notify import Receiver, closed_port
from workflows.steps.approval import REQUEST_RECORD

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Any:
    with Receiver([200]) as r:
        yield r


@pytest.fixture
def setup(stack: Any, bucket: str, tmp_path: Path, receiver: Receiver) -> Callable[..., Any]:
    def make(timeout_s: int) -> Any:
        spec = {
            **example_spec("credit"),
            "params": {"algorithm": "logreg"},
            "approval": "required",
            "approval_timeout_s": timeout_s,
            "notifications": {
                "webhooks": [
                    {"url": receiver.url, "format": "json"},
                    {"url": closed_port(), "format": "slack", "events": ["outcome"]},  # dead: a warning
                ]
            },
        }
        overrides = {
            **stack.overrides,
            "s3.bucket": bucket,
            "data_dir": str(tmp_path / "data"),
            "models": {"credit": spec},
        }
        settings = load_settings(env={}, overrides=overrides)
        buf = io.BytesIO()
        make_credit(800, seed=3).to_parquet(buf, index=False)
        S3Store(settings).put_bytes("datasets/credit/current.parquet", buf.getvalue())
        return settings, overrides

    return make


def _start(settings: Any) -> tuple[threading.Thread, dict[str, Any]]:
    from driftloop.local.runs import run_local
    from workflows.retrain import build_retrain

    out: dict[str, Any] = {}
    template = build_retrain(settings, "credit").to_dict()

    def run() -> None:
        out["result"] = run_local(template, {"model": "credit", "reason": "manual"}, settings)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _waiting(registry: Registry, deadline_s: float = 240) -> dict[str, Any]:
    """The approval request once the run waits (the first version is the canary; no champion yet)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        version = registry.get_alias("credit", "canary")
        if version and REQUEST_RECORD in registry.get("credit", version).records:
            return {"version": version, **registry.get("credit", version).records[REQUEST_RECORD]}
        time.sleep(0.5)
    raise AssertionError("the run never asked for approval")


def _phases(result: Any) -> dict[str, str]:
    return {n.display_name: n.phase for n in result.nodes}


def _cli(settings: Any, tmp_path: Path, *args: str) -> Any:
    """``driftloop ARGS`` in a subprocess, with the test's settings exported as its config file."""
    from driftloop.config import export_settings

    config = export_settings(settings, tmp_path / "cli" / "driftloop.yaml")
    return driftloop(*args, env=cli_env({"config": config}), cwd=tmp_path)


def test_approve_promotes_and_webhooks_get_the_request_and_the_outcome(
    setup: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = setup(timeout_s=600)
    registry = Registry(S3Store(settings))
    thread, out = _start(settings)
    request = _waiting(registry)
    assert request["deadline_ms"] - request["requested_ms"] == 600_000

    from driftloop.cli.approval import resume_run
    from workflows.steps.approval import decide

    decided = decide(settings, "credit", "approve", by="alice", reason="looks good")
    assert decided["workflow"] == request["workflow"] and decided["version"] == request["version"]
    assert resume_run(settings, decided["workflow"]) == "local"
    thread.join(240)
    result = out["result"]
    phases = _phases(result)
    assert result.phase == "Succeeded", (result.message, phases)
    assert phases["check-approval"] == "Succeeded" and phases["promote"] == "Succeeded"
    assert phases["rollback-rejected"] in ("Skipped", "Omitted")
    assert registry.get_alias("credit", "champion") == request["version"]
    approval = registry.get("credit", request["version"]).records["approval"]
    assert approval["decision"] == "approve" and approval["by"] == "alice"
    # the second decision on the same run is refused
    from driftloop.errors import UsageError

    with pytest.raises(UsageError):
        decide(settings, "credit", "reject")

    # verdict, approval requested, approval decided, outcome — in the order the run sent them
    events = [b["event"] for b in receiver.bodies]
    assert events == ["verdict", "approval", "approval", "outcome"]
    requested, decided_note, outcome = receiver.bodies[1:]
    assert "driftloop approve credit" in requested["text"] and requested["data"]["version"] == "v1"
    assert decided_note["data"]["approval"] == "approved" and decided_note["data"]["by"] == "alice"
    assert outcome["data"]["outcome"] == "succeeded" and outcome["data"]["approval"]["approval"] == "approved"


def test_reject_rolls_back(setup: Any, tmp_path: Path) -> None:
    settings, _ = setup(timeout_s=600)
    registry = Registry(S3Store(settings))
    refused = _cli(settings, tmp_path, "approve", "credit")  # nothing waits yet
    assert refused.returncode == 2
    assert "no run of credit has a canary waiting for a decision" in refused.stderr
    assert "Traceback" not in refused.stderr
    thread, out = _start(settings)
    request = _waiting(registry)

    cli = _cli(settings, tmp_path, "reject", "credit", "--reason", "not now")
    assert cli.returncode == 0, cli.stderr
    assert f"rejected credit {request['version']} (run {request['workflow']}, resumed local)" in cli.stderr
    thread.join(240)
    result = out["result"]
    phases = _phases(result)
    assert result.phase == "Succeeded", (result.message, phases)
    assert phases["rollback-rejected"] == "Succeeded" and phases["promote"] in ("Skipped", "Omitted")
    assert registry.get_alias("credit", "champion") is None
    assert registry.get_alias("credit", "canary") is None
    decision = registry.get("credit", request["version"]).records["approval"]
    assert decision["decision"] == "reject" and decision["reason"] == "not now"


def test_no_decision_before_the_timeout_rejects(setup: Any, receiver: Receiver) -> None:
    settings, _ = setup(timeout_s=3)
    registry = Registry(S3Store(settings))
    thread, out = _start(settings)
    request = _waiting(registry)
    thread.join(240)
    result = out["result"]
    phases = _phases(result)
    assert result.phase == "Succeeded", (result.message, phases)
    assert phases["wait-approval"] == "Succeeded"  # an expired suspend succeeds, as on Argo ...
    assert phases["rollback-rejected"] == "Succeeded"  # ... and the missing decision rejects
    assert registry.get_alias("credit", "champion") is None
    record = registry.get("credit", request["version"]).records["approval"]
    assert record["via"] == "timeout" and record["decision"] == "reject"
    outcome = receiver.bodies[-1]
    assert outcome["event"] == "outcome" and outcome["data"]["outcome"] == "rejected"
    assert outcome["data"]["stage"] == "approval"


def test_a_plain_resume_before_the_deadline_approves(setup: Any, tmp_path: Path) -> None:
    """Resume in the Argo UI / `argo resume` / `driftloop workflow resume` is a person's approval."""
    settings, _ = setup(timeout_s=600)
    registry = Registry(S3Store(settings))
    thread, out = _start(settings)
    request = _waiting(registry)
    cli = _cli(settings, tmp_path, "workflow", "resume", request["workflow"])
    assert cli.returncode == 0, cli.stderr
    thread.join(240)
    phases = _phases(out["result"])
    assert out["result"].phase == "Succeeded" and phases["promote"] == "Succeeded", phases
    record = registry.get("credit", request["version"]).records["approval"]
    assert record["decision"] == "approve" and record["via"] == "approved"
    assert "resumed before the deadline" in record["reason"]
