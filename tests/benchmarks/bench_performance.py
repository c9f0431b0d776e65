"""Benchmark: driftloop's CBPE vs NannyML's CBPE on the same data, in the same run.

    .venv/bin/python tests/benchmarks/bench_performance.py [--sizes 10000,100000] [--repeat 3] [--rounds 3]

The credit classifier (``driftloop/demo/examples/credit``) is trained on generated loan applications; a
labelled reference (20,000 rows, the holdout's role) fits both estimators; each analysis window (the
given sizes; a 30 % downturn share, so the model's performance really moves) is estimated as one chunk.

* driftloop: ``binary_estimator`` (isotonic calibration) fitted on the reference, then
  ``PerformanceEstimator.estimate`` on the window as the monitor sees it — the predicted class and *its*
  probability — including the 95 % band.
* NannyML: ``nannyml.CBPE(problem_type="classification_binary", metrics=["roc_auc", "accuracy"])``
  ``fit`` + ``estimate`` on the positive-class probability, one chunk. NannyML
  runs in its own virtualenv (``.driftloop/bench-venv``, created with ``pip install nannyml statsmodels``
  when absent — NannyML pins its own pandas / numpy and is never a project dependency), in a subprocess
  that times only the calls, not its imports.

**Multiclass** (``--multiclass-rows``, 100,000 by default; 0 skips it): a 4-class problem
(``make_classification``) and a logistic regression; a labelled reference of 20,000 rows fits both
estimators, and the window is drawn from unseen rows with a preference for those the model is unsure of
(a covariate shift: P(y|x) unchanged, the metrics fall).

* driftloop: ``multiclass_estimator`` (one isotonic calibration per class) fitted on the reference, then
  ``PerformanceEstimator.estimate`` on the window as the monitor sees it — ``prediction``,
  ``probability`` and the ``probabilities`` column of per-row lists — including the 95 % bands.
* NannyML: ``nannyml.CBPE(problem_type="classification_multiclass", metrics=["roc_auc", "f1",
  "accuracy"])`` on one column per class, one chunk.

Both sides are timed fit + estimate, best of ``--repeat`` runs in each of ``--rounds`` turns they take
one after the other. Prints a table with both estimates, the realised metrics (the labels are known
here), the times and the speed-up — binary, then multiclass — then one JSON line (the multiclass rows
under ``multiclass_*`` keys). Not collected by pytest (file name ``bench_*``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# One thread per side (BLAS / OpenMP): on a shared machine, thread pools spinning against other loads
# make timings of a few milliseconds meaningless. Set before numpy is imported; the NannyML child
# inherits it.
SINGLE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
os.environ.update(SINGLE_THREAD)

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".driftloop" / "bench-venv"
REFERENCE_ROWS = 20_000

NANNYML_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml

ref = pd.read_parquet(sys.argv[1])
out = {}
for path in sys.argv[3:]:
    ana = pd.read_parquet(path)
    best, est = float("inf"), None
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter()
        cbpe = nml.CBPE(
            y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
            problem_type="classification_binary", metrics=["roc_auc", "accuracy"], chunk_size=len(ana),
        )
        cbpe.fit(ref)
        res = cbpe.estimate(ana).filter(period="analysis").to_df()
        best = min(best, time.perf_counter() - t)
        est = {m: float(res[(m, "value")].iloc[0]) for m in ("roc_auc", "accuracy")}
    out[str(len(ana))] = {"seconds": best, "estimate": est, "version": nml.__version__}
print(json.dumps(out))
"""


NANNYML_MULTICLASS_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml

ref, ana = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[3])
classes = sys.argv[4].split(",")
metrics = ["roc_auc", "f1", "accuracy"]
best, est = float("inf"), None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    cbpe = nml.CBPE(
        y_pred_proba={c: f"p_{c}" for c in classes}, y_pred="y_pred", y_true="y_true",
        problem_type="classification_multiclass", metrics=metrics, chunk_size=len(ana),
    )
    cbpe.fit(ref)
    res = cbpe.estimate(ana).filter(period="analysis").to_df()
    best = min(best, time.perf_counter() - t)
    est = {m: float(res[(m, "value")].iloc[0]) for m in metrics}
print(json.dumps({"seconds": best, "estimate": est, "version": nml.__version__}))
"""
MULTICLASS_METRICS = ("accuracy", "f1", "roc_auc")
CLASSES = 4


def _venv_python() -> Path:
    """The benchmark's own virtualenv with NannyML (created on first use)."""
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV} with NannyML (one-off, a few minutes)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import nannyml"], capture_output=True)
    if probe.returncode != 0:
        # statsmodels: imported by a NannyML dependency (category-encoders) without being declared
        subprocess.run([str(py), "-m", "pip", "install", "-q", "nannyml", "statsmodels"], check=True)
    return py


def _frames(sizes: list[int]) -> tuple[Any, Any, dict[int, Any]]:
    """The trained model's scored reference and windows: y_true, y_pred, y_pred_proba (positive class),
    probability (of the predicted class)."""
    import numpy as np

    from driftloop.modelspec import EXAMPLES_DIR
    from monitors.datasets import TARGET, make_credit
    from workflows.steps.train import fit

    sys.path.insert(0, str(EXAMPLES_DIR / "credit"))
    model = fit(
        make_credit(20_000, seed=0),
        model="credit",
        task="classification",
        target=TARGET,
        trainer="credit_model:train",
        params={},
    )

    def scored(frame: Any) -> Any:
        import pandas as pd

        proba = model.predict_proba(frame.drop(columns=[TARGET]))[:, 1]
        pred = (proba >= 0.5).astype(int)
        return pd.DataFrame(
            {
                "y_true": frame[TARGET].to_numpy(),
                "y_pred": pred,
                "y_pred_proba": proba,
                "prediction": pred,
                "probability": np.where(pred == 1, proba, 1 - proba),
            }
        )

    reference = scored(make_credit(REFERENCE_ROWS, seed=10))
    windows = {n: scored(make_credit(n, seed=20 + i, drift=0.3)) for i, n in enumerate(sizes)}
    return model, reference, windows


def _driftloop(reference: Any, window: Any, repeat: int) -> tuple[float, dict[str, float]]:
    from monitors.performance import binary_estimator

    best, est = float("inf"), {}
    for _ in range(repeat):
        t = time.perf_counter()
        estimator = binary_estimator(
            reference["y_pred_proba"].to_numpy(), reference["y_true"].to_numpy() == 1, [0, 1]
        )
        result = estimator.estimate(window[["prediction", "probability"]])
        best = min(best, time.perf_counter() - t)
        est = {m: result.metrics[m] for m in ("roc_auc", "accuracy")}
    return best, est


def _realised(window: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(window["y_true"], window["y_pred_proba"])),
        "accuracy": float(accuracy_score(window["y_true"], window["y_pred"])),
    }


def _multiclass_frames(rows: int) -> tuple[Any, Any]:
    """A 4-class logistic regression's scored reference and a covariate-shifted window of ``rows``:
    y_true, y_pred (class names ``c0``..), one probability column per class (``p_c0``..), and the
    monitor's view — ``prediction``, ``probability``, ``probabilities`` (per-row lists)."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(
        n_samples=10_000 + REFERENCE_ROWS + 3 * rows,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        n_classes=CLASSES,
        n_clusters_per_class=1,
        flip_y=0.02,
        random_state=7,
    )
    model = LogisticRegression(max_iter=1000).fit(x[:10_000], y[:10_000])
    names = np.asarray([f"c{i}" for i in range(CLASSES)])

    def scored(xs: Any, ys: Any) -> Any:
        proba = model.predict_proba(xs)
        top = proba.argmax(axis=1)
        return pd.DataFrame(
            {
                "y_true": names[ys],
                "y_pred": names[top],
                **{f"p_{c}": proba[:, i] for i, c in enumerate(names)},
                "prediction": top,
                "probability": proba.max(axis=1),
                "probabilities": proba.tolist(),
            }
        )

    reference = scored(x[10_000 : 10_000 + REFERENCE_ROWS], y[10_000 : 10_000 + REFERENCE_ROWS])
    pool_x, pool_y = x[10_000 + REFERENCE_ROWS :], y[10_000 + REFERENCE_ROWS :]
    confidence = model.predict_proba(pool_x).max(axis=1)
    weights = np.exp(-3 * (confidence - confidence.min()))
    idx = np.random.default_rng(0).choice(len(pool_x), rows, replace=False, p=weights / weights.sum())
    return reference, scored(pool_x[idx], pool_y[idx])


def _driftloop_multiclass(reference: Any, window: Any, repeat: int) -> tuple[float, dict[str, float]]:
    from monitors.performance import multiclass_estimator

    proba = reference[[f"p_c{i}" for i in range(CLASSES)]].to_numpy()
    labels = reference["y_true"].str.slice(1).astype(int).to_numpy()  # c2 -> 2, the model's class
    best, est = float("inf"), {}
    for _ in range(repeat):
        t = time.perf_counter()
        estimator = multiclass_estimator(proba, labels, list(range(CLASSES)))
        result = estimator.estimate(window[["prediction", "probability", "probabilities"]])
        best = min(best, time.perf_counter() - t)
        est = {m: result.metrics[m] for m in MULTICLASS_METRICS}
    return best, est


def _realised_multiclass(window: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    proba = window[[f"p_c{i}" for i in range(CLASSES)]].to_numpy()
    return {
        "accuracy": float(accuracy_score(window["y_true"], window["y_pred"])),
        "f1": float(f1_score(window["y_true"], window["y_pred"], average="macro")),
        "roc_auc": float(roc_auc_score(window["y_true"], proba, multi_class="ovr", average="macro")),
    }


def _multiclass(py: Path, rows: int, repeat: int, rounds: int) -> list[dict[str, Any]]:
    """Both CBPEs on one multiclass window, taking turns as the binary ones do; prints the table rows."""
    reference, window = _multiclass_frames(rows)
    columns = ["y_true", "y_pred", *(f"p_c{i}" for i in range(CLASSES))]
    nanny: dict[str, Any] | None = None
    ours: tuple[float, dict[str, float]] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        ref_path, ana_path = Path(tmp) / "reference.parquet", Path(tmp) / "analysis.parquet"
        reference[columns].to_parquet(ref_path)
        window[columns].to_parquet(ana_path)
        names = ",".join(f"c{i}" for i in range(CLASSES))
        for _ in range(rounds):
            proc = subprocess.run(
                [str(py), "-c", NANNYML_MULTICLASS_SCRIPT, str(ref_path), str(repeat), str(ana_path), names],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                sys.exit(f"NannyML (multiclass) failed:\n{proc.stderr[-3000:]}")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            if nanny is None or got["seconds"] < nanny["seconds"]:
                nanny = got
            result = _driftloop_multiclass(reference, window, repeat)
            if ours is None or result[0] < ours[0]:
                ours = result
    assert nanny is not None and ours is not None
    ours_s, est = ours
    real = _realised_multiclass(window)
    speed = nanny["seconds"] / ours_s
    out = []
    for m in MULTICLASS_METRICS:
        theirs = nanny["estimate"][m]
        diff = abs(est[m] - theirs)
        print(
            f"{rows:>8} {'mc ' + m:>9} {est[m]:>10.4f} {theirs:>9.4f} {diff:>7.4f} {real[m]:>9.4f} "
            f"{ours_s:>12.4f} {nanny['seconds']:>10.3f} {speed:>8.1f}×"
        )
        out.append(
            {
                "rows": rows,
                "metric": m,
                "driftloop": round(est[m], 5),
                "nannyml": round(theirs, 5),
                "abs_diff": round(diff, 5),
                "realised": round(real[m], 5),
                "driftloop_s": round(ours_s, 5),
                "nannyml_s": round(nanny["seconds"], 5),
                "speedup": round(speed, 1),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    parser.add_argument("--multiclass-rows", type=int, default=100_000, help="0: no multiclass section")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    py = _venv_python()
    _, reference, windows = _frames(sizes)
    # The two sides take turns (--rounds), each keeping its best time: on a shared machine a burst of
    # load then hits both rather than one.
    nanny: dict[str, Any] = {}
    ours: dict[int, tuple[float, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = Path(tmp) / "reference.parquet"
        reference[["y_true", "y_pred", "y_pred_proba"]].to_parquet(ref_path)
        paths = []
        for n, w in windows.items():
            paths.append(Path(tmp) / f"analysis-{n}.parquet")
            w[["y_true", "y_pred", "y_pred_proba"]].to_parquet(paths[-1])
        for _ in range(args.rounds):
            proc = subprocess.run(
                [str(py), "-c", NANNYML_SCRIPT, str(ref_path), str(args.repeat), *map(str, paths)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                sys.exit(f"NannyML failed:\n{proc.stderr[-3000:]}")
            for n, got in json.loads(proc.stdout.strip().splitlines()[-1]).items():
                if n not in nanny or got["seconds"] < nanny[n]["seconds"]:
                    nanny[n] = got
            for n, w in windows.items():
                result = _driftloop(reference, w, args.repeat)
                if n not in ours or result[0] < ours[n][0]:
                    ours[n] = result
    rows = []
    header = (
        f"{'rows':>8} {'metric':>9} {'driftloop':>10} {'NannyML':>9} {'|diff|':>7} {'realised':>9} "
        f"{'driftloop s':>12} {'NannyML s':>10} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for n, w in windows.items():
        ours_s, est = ours[n]
        theirs = nanny[str(n)]
        real = _realised(w)
        for m in ("roc_auc", "accuracy"):
            diff = abs(est[m] - theirs["estimate"][m])
            speed = theirs["seconds"] / ours_s
            print(
                f"{n:>8} {m:>9} {est[m]:>10.4f} {theirs['estimate'][m]:>9.4f} {diff:>7.4f} {real[m]:>9.4f} "
                f"{ours_s:>12.4f} {theirs['seconds']:>10.3f} {speed:>8.1f}×"
            )
            rows.append(
                {
                    "rows": n,
                    "metric": m,
                    "driftloop": round(est[m], 5),
                    "nannyml": round(theirs["estimate"][m], 5),
                    "abs_diff": round(diff, 5),
                    "realised": round(real[m], 5),
                    "driftloop_s": round(ours_s, 5),
                    "nannyml_s": round(theirs["seconds"], 5),
                    "speedup": round(speed, 1),
                }
            )
    multiclass = []
    if args.multiclass_rows:
        print(f"multiclass, {CLASSES} classes ('mc'): accuracy, macro F1, macro one-vs-rest ROC AUC")
        multiclass = _multiclass(py, args.multiclass_rows, args.repeat, args.rounds)
    version = next(iter(nanny.values()))["version"]
    ok = all(r["abs_diff"] <= 0.02 for r in rows) and all(
        r["speedup"] >= 10 for r in rows if r["rows"] >= 100_000
    )
    summary: dict[str, Any] = {
        "benchmark": "cbpe",
        "nannyml": version,
        "within_0.02_and_10x": ok,
        "results": rows,
    }
    if multiclass:
        summary["multiclass_within_0.02"] = all(r["abs_diff"] <= 0.02 for r in multiclass)
        summary["multiclass_results"] = multiclass
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
