"""A crash during the canary analysis leaves no canary that nobody analyses (real embedded S3).

The run that deployed a canary is recorded as its owner. ``driftloop up`` reconciles before it starts
anything: a canary whose owner is gone (its executor was killed mid-analysis: a ``Running`` record whose
process is dead) is rolled back — traffic and alias — and the champion stays; a canary whose run is alive
or unknown here is left alone.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from driftloop.local.executor.record import process_start
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from sensors.admission import local_liveness
from workflows.deploy.reconcile import OWNER_RECORD, reconcile_canaries

pytestmark = pytest.mark.integration


def _model() -> bytes:
    buf = io.BytesIO()
    joblib.dump({"weights": [1]}, buf)
    return buf.getvalue()


def _run_record(data_dir: Path, name: str, pid: int) -> None:
    record = {
        "name": name,
        "uid": "u",
        "phase": "Running",
        "owner_pid": pid,
        "owner_start": process_start(pid),
    }
    path = data_dir / "runs" / name / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**record, "nodes": []}))


def test_a_canary_whose_run_died_is_rolled_back_and_a_live_one_is_kept(
    settings_for, bucket, tmp_path
) -> None:
    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    registry = Registry(S3Store(settings))
    for model in ("credit", "churn"):
        registry.register(model, _model())
        registry.promote(model, "v1")
        registry.register(model, _model())
        registry.set_alias(model, "canary", "v2")
    # credit's canary belongs to a run whose executor was SIGKILLed during analyze-canary
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _run_record(tmp_path / "data", "retrain-credit-dead", dead.pid)
    registry.record("credit", "v2", OWNER_RECORD, {"workflow": "retrain-credit-dead"})
    # churn's canary belongs to a run that is still analysing it (this process owns it)
    _run_record(tmp_path / "data", "retrain-churn-live", os.getpid())
    registry.record("churn", "v2", OWNER_RECORD, {"workflow": "retrain-churn-live"})

    done = reconcile_canaries(settings, local_liveness(settings), registry=registry)
    assert done == [
        {"model": "credit", "version": "v2", "owner": "retrain-credit-dead", "action": "rollback"}
    ]
    assert registry.aliases("credit") == {"champion": "v1", "canary": None}
    assert registry.get("credit", "v2").records["reconciled"]["action"] == "rollback"
    assert registry.aliases("churn") == {"champion": "v1", "canary": "v2"}  # its run is alive
    assert reconcile_canaries(settings, local_liveness(settings), registry=registry) == []  # idempotent
