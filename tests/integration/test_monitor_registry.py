"""``driftloop monitor run`` without ``--reference``: the champion's reference profile is loaded from
the model registry on the embedded S3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.registry import PROFILE_FILE, Registry
from driftloop.s3 import S3Store
from monitors import MonitorDefinition, ReferenceProfile, build_profile
from monitors.datasets import TARGET, make_credit

pytestmark = pytest.mark.integration


def _cli(overrides: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    sets = [f"--set={k}={v}" for k, v in overrides.items()]
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *sets, "monitor", "run", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_without_reference_the_champions_profile_is_used(  # type: ignore[no-untyped-def]
    stack, bucket, settings_for, tmp_path: Path
) -> None:
    registry = Registry(S3Store(settings_for(s3__bucket=bucket)))
    definition = MonitorDefinition(model="credit", target=TARGET)
    champion_ref = make_credit(4000, seed=0)
    registry.register(
        "credit", b"model-1", reference_profile=build_profile(champion_ref, definition, "v1").to_bytes()
    )
    registry.promote("credit", "v1")
    # A newer, unpromoted version whose reference *is* the drifted data: using it would find no drift.
    drifted = make_credit(3000, seed=1, drift=0.7)
    registry.register(
        "credit", b"model-2", reference_profile=build_profile(drifted, definition, "v2").to_bytes()
    )
    assert ReferenceProfile.from_bytes(registry.get_file("credit", "v1", PROFILE_FILE)).rows == 4000

    window = tmp_path / "window.parquet"
    drifted.drop(columns=[TARGET]).to_parquet(window)  # an unlabelled window: features only
    overrides = {**stack.overrides, "s3.bucket": bucket}
    proc = _cli(overrides, "--model", "credit", "--current", str(window), "--no-publish", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model_version"] == "v1"
    assert out["rows"] == {"reference": 4000, "current": 3000}
    assert out["dataset_drift"] is True and out["published"] is False
    assert TARGET not in out["columns"] and out["quality"] == []

    registry.promote("credit", "v2")
    proc = _cli(overrides, "--model", "credit", "--current", str(window), "--no-publish", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model_version"] == "v2" and out["dataset_drift"] is False


def test_without_reference_and_without_champion_is_a_usage_error(  # type: ignore[no-untyped-def]
    stack, bucket, tmp_path: Path
) -> None:
    window = tmp_path / "window.csv"
    make_credit(500, seed=2).to_csv(window, index=False)
    overrides = {**stack.overrides, "s3.bucket": bucket}
    proc = _cli(overrides, "--model", "credit", "--current", str(window), "--no-publish")
    assert proc.returncode == 2
    assert "champion" in proc.stderr and "--reference" in proc.stderr
    assert "Traceback" not in proc.stderr
