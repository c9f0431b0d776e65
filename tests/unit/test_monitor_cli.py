"""``driftloop monitor run`` on files, without Kafka (``--no-publish``): output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitors import MonitorDefinition, build_profile
from monitors.datasets import make_credit


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftloop", "monitor", "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("monitor")
    out = {
        "ref": d / "ref.csv",
        "same": d / "same.csv",
        "drift": d / "drift.parquet",
        "bad": d / "bad.csv",
        "profile": d / "credit.dlprofile",
    }
    make_credit(5000, seed=0).to_csv(out["ref"], index=False)
    make_credit(2000, seed=1).to_csv(out["same"], index=False)
    make_credit(2000, seed=2, drift=0.7).to_parquet(out["drift"])
    make_credit(2000, seed=3).drop(columns=["age"]).to_csv(out["bad"], index=False)
    out["profile"].write_bytes(
        build_profile(make_credit(5000, seed=0), MonitorDefinition(model="credit")).to_bytes()
    )
    return out


def test_json_output_and_exit_0(files: dict[str, Path]) -> None:
    proc = _run(
        "--model",
        "credit",
        "--reference",
        str(files["ref"]),
        "--current",
        str(files["same"]),
        "--no-publish",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dataset_drift"] is False and out["quality"] == []
    assert isinstance(out["drift_share"], float)
    assert set(out["columns"]["income"]) >= {"test", "score", "threshold", "drifted"}


def test_drift_with_fail_on_drift_exits_3_and_writes_report(files: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    proc = _run(
        "--model",
        "credit",
        "--reference",
        str(files["profile"]),
        "--current",
        str(files["drift"]),
        "--no-publish",
        "--json",
        "--fail-on-drift",
        "--report",
        str(report),
    )
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["dataset_drift"] is True
    assert "<html" in report.read_text()[:2000].lower()
    assert (
        _run(
            "--model",
            "credit",
            "--reference",
            str(files["profile"]),
            "--current",
            str(files["drift"]),
            "--no-publish",
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--current", "{bad}"], "data-quality"),
        (["--current", "/nonexistent.csv"], "no such file"),
        (["--current", "{same}", "--last", "5"], "--last"),
        (["--current", "kafka"], "--last N"),
    ],
)
def test_bad_input_exits_2_with_one_line(files: dict[str, Path], args: list[str], message: str) -> None:
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    proc = _run("--model", "credit", "--reference", str(files["ref"]), "--no-publish", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_json_carries_multivariate_and_segments_and_the_report_shows_them(
    files: dict[str, Path], tmp_path: Path
) -> None:
    from monitors.datasets import flip_correlation

    definition = tmp_path / "monitor.yaml"
    definition.write_text("segments: [region, channel]\nmin_segment_rows: 150\n")
    flipped = tmp_path / "flipped.csv"
    flip_correlation(make_credit(2000, seed=1), "income", "loan_amount").to_csv(flipped, index=False)
    report = tmp_path / "report.html"
    proc = _run(
        "--model",
        "credit",
        "--reference",
        str(files["ref"]),
        "--current",
        str(flipped),
        "--definition",
        str(definition),
        "--report",
        str(report),
        "--no-publish",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dataset_drift"] is False and out["multivariate"]["drifted"] is True
    assert set(out["multivariate"]) >= {"method", "score", "threshold", "drifted"}
    assert {s["column"] for s in out["segments"]} == {"region"}
    assert out["notes"] == ["segment column 'channel' is missing from the window: not checked"]
    assert out["signals"] == ["multivariate"] and out["retrain"] is False
    assert "performance" not in out  # a reference file has no holdout metrics to compare with
    html = report.read_text()
    assert "driftloop signals: multivariate" in html and "domain_classifier_roc_auc" in html


def test_labels_without_a_registered_champion_is_a_one_line_error(
    files: dict[str, Path], tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\nr-1,1\n")
    proc = _run(
        "--model",
        "credit",
        "--reference",
        str(files["ref"]),
        "--current",
        str(files["same"]),
        "--labels",
        str(labels),
        "--no-publish",
    )
    assert proc.returncode == 2
    assert "--labels" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_an_unconfigured_model_is_named_as_such_not_as_one_without_a_champion(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftloop",
            "monitor",
            "run",
            "--model",
            "credit",
            "--current",
            "/nonexistent.csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no driftloop.yaml here: no model is configured
    )
    assert proc.returncode == 2, proc.stderr
    assert "model 'credit' is not configured" in proc.stderr and "champion" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
