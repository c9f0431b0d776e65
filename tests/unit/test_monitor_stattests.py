"""The fast stattest paths equal Evidently's own implementations (1e-9 relative) on random data."""

from __future__ import annotations

import functools
import types

import numpy as np
import pandas as pd
import pytest

from monitors import MonitorDefinition, ReferenceProfile, build_profile, run_check
from monitors.stattests import (
    choose_stattest,
    jensenshannon_counts,
    jensenshannon_numeric_sorted,
    wasserstein_norm_sorted,
)

REL = 1e-9


@functools.cache
def _ev() -> types.SimpleNamespace:
    """Evidently's own implementations, imported on first use: the import takes seconds, which every
    pytest-xdist worker would pay while collecting this module, also the worker that runs none of it."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
    from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
    from evidently.legacy.core import ColumnType

    return types.SimpleNamespace(
        get_stattest=get_stattest,
        jensenshannon=_jensenshannon,
        wasserstein=_wasserstein_distance_norm,
        numerical=ColumnType.Numerical,
        categorical=ColumnType.Categorical,
    )


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.mark.parametrize("seed", range(12))
def test_wasserstein_fast_path_equals_evidently(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1001, 40_000)), int(rng.integers(50, 40_000))
    dist = seed % 4
    if dist == 0:
        ref, cur = rng.normal(0, 1, n), rng.normal(rng.normal(0, 0.2), 1.3, m)
    elif dist == 1:  # heavy ties: integers
        ref, cur = rng.integers(0, 40, n).astype(float), rng.integers(3, 45, m).astype(float)
    elif dist == 2:  # skewed, large offset
        ref, cur = 1e6 + rng.lognormal(3, 1, n), 1e6 + rng.lognormal(3.1, 1, m)
    else:  # tiny scale: the 0.001 norm floor applies
        ref, cur = rng.normal(0, 1e-5, n), rng.normal(1e-6, 1e-5, m)
    ours = wasserstein_norm_sorted(np.sort(ref), float(np.std(ref)), cur)
    theirs, drifted = _ev().wasserstein(pd.Series(ref), pd.Series(cur), _ev().numerical, 0.1)
    assert _rel(ours.score, theirs) < REL
    assert ours.drifted == drifted


def test_wasserstein_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks (tiny chunk size) give the same score as scipy."""
    import monitors.stattests as st

    monkeypatch.setattr(st, "_CHUNK", 97)
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 5000), rng.normal(0.1, 1, 3333)
    theirs, _ = _ev().wasserstein(pd.Series(ref), pd.Series(cur), _ev().numerical, 0.1)
    assert _rel(st.wasserstein_norm_sorted(np.sort(ref), float(np.std(ref)), cur).score, theirs) < REL


@pytest.mark.parametrize("seed", range(6))
def test_jensenshannon_counts_equals_evidently(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cats = [f"c{i}" for i in range(int(rng.integers(2, 30)))]
    ref = pd.Series(rng.choice(cats, 5000))
    cur = pd.Series(rng.choice([*cats, "new"], 3000))
    theirs, drifted = _ev().jensenshannon(ref, cur, _ev().categorical, 0.1)
    ours = jensenshannon_counts(
        dict(ref.value_counts()), len(ref), dict(cur.value_counts()), len(cur), threshold=0.1
    )
    assert _rel(ours.score, theirs) < REL
    assert ours.drifted == drifted


@pytest.mark.parametrize("seed", range(6))
def test_jensenshannon_numeric_equals_evidently(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, 4000).round(seed % 3 + 1)  # rounding puts values on bin edges
    cur = rng.normal(0.3, 1.2, 2500).round(seed % 3 + 1)
    theirs, drifted = _ev().jensenshannon(pd.Series(ref), pd.Series(cur), _ev().numerical, 0.1)
    ours = jensenshannon_numeric_sorted(np.sort(ref), cur)
    assert _rel(ours.score, theirs) < REL
    assert ours.drifted == drifted


@pytest.mark.parametrize(
    ("kind", "rows", "values", "expected"),
    [
        ("numerical", 1000, 6, "ks"),
        ("numerical", 1000, 5, "chisquare"),
        ("numerical", 1000, 2, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 500, 2, "z"),
        ("numerical", 1001, 6, "wasserstein"),
        ("numerical", 1001, 5, "jensenshannon"),
        ("categorical", 1001, 50, "jensenshannon"),
    ],
)
def test_automatic_choice_matches_evidently(kind: str, rows: int, values: int, expected: str) -> None:
    if kind == "numerical":
        ref = pd.Series((np.arange(rows) % values).astype(float) + 0.5)
    else:
        ref = pd.Series([f"v{i % values}" for i in range(rows)])
    cur = ref.sample(frac=0.5, random_state=1).reset_index(drop=True)
    column_type = _ev().numerical if kind == "numerical" else _ev().categorical
    assert _ev().get_stattest(ref, cur, column_type, None).name == expected
    assert choose_stattest(kind, rows, values) == expected


def _evidently_column(ref: pd.Series, cur: pd.Series, kind: str) -> tuple[str, float, bool]:
    column_type = _ev().numerical if kind == "numerical" else _ev().categorical
    ref, cur = (
        ref.replace([np.inf, -np.inf], np.nan).dropna(),
        cur.replace([np.inf, -np.inf], np.nan).dropna(),
    )
    test = _ev().get_stattest(ref, cur, column_type, None)
    res = test(ref, cur, column_type, None)
    return test.name, float(res.drift_score), bool(res.drifted)


@pytest.mark.parametrize("ref_rows", [300, 1000, 1001, 8000])
def test_run_check_matches_evidently_per_column(ref_rows: int) -> None:
    """End to end through a serialised profile, every column kind and both reference-size regimes."""
    rng = np.random.default_rng(ref_rows)

    def frame(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "num": rng.normal(shift, 1, n),
                "num_nan": np.where(rng.random(n) < 0.05, np.nan, rng.exponential(1 + shift, n)),
                "few": rng.integers(0, 4, n).astype(float) + (shift > 0) * rng.integers(0, 2, n),
                "cat": rng.choice(
                    ["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.25] * 4
                ),
                "flag": rng.choice([True, False], n),
                "small_int": rng.integers(0, 8, n),
            }
        )

    ref, cur = frame(ref_rows, 0.0), frame(2500, 0.4)
    definition = MonitorDefinition(model="m")
    profile = ReferenceProfile.from_bytes(build_profile(ref, definition).to_bytes())
    result = run_check(profile, cur)
    assert result.status in ("ok", "drift")
    assert set(result.columns) == set(ref.columns)
    for name, col in result.columns.items():
        name_e, score_e, drifted_e = _evidently_column(ref[name], cur[name], col.kind)
        assert col.test == name_e, name
        assert _rel(col.score, score_e) < REL, (name, col.score, score_e)
        assert col.drifted == drifted_e, name


@pytest.mark.parametrize("chunk", [1, 2, 7, 1 << 16])
@pytest.mark.parametrize("case", ["above", "below", "identical", "ties", "single", "interleaved"])
def test_wasserstein_merge_path_edge_cases(monkeypatch: pytest.MonkeyPatch, chunk: int, case: str) -> None:
    """Chunk splits found by the merge-path search: disjoint samples (one chunk holds only one side),
    identical samples, ties straddling chunk boundaries, a one-value window."""
    import monitors.stattests as st

    monkeypatch.setattr(st, "_CHUNK", chunk)
    rng = np.random.default_rng(len(case) * 31 + chunk)
    ref = rng.normal(0, 1, 1200)
    cur = {
        "above": rng.normal(50, 1, 300),
        "below": rng.normal(-50, 1, 700),
        "identical": ref.copy(),
        "ties": rng.integers(-3, 4, 900).astype(float),
        "single": np.array([0.25]),
        "interleaved": np.concatenate([ref[::3], rng.normal(0, 2, 200)]),
    }[case]
    if case == "ties":
        ref = rng.integers(-4, 3, 1200).astype(float)
    theirs, drifted = _ev().wasserstein(pd.Series(ref), pd.Series(cur), _ev().numerical, 0.1)
    ours = st.wasserstein_norm_sorted(np.sort(ref), float(np.std(ref)), cur)
    presorted = st.wasserstein_norm_sorted(
        np.sort(ref), float(np.std(ref)), np.sort(cur), current_sorted=True
    )
    assert _rel(ours.score, theirs) < REL or abs(ours.score - theirs) < 1e-15
    assert ours == presorted
    assert ours.drifted == drifted


def test_window_dtypes_and_layout_do_not_change_the_check() -> None:
    """int / float32 columns (cast into the worker buffer) and a column-strided window (hashed in chunks)
    give the same scores and the same content hash as the float64 contiguous window."""
    rng = np.random.default_rng(3)
    n = 3000
    ref = pd.DataFrame({"a": rng.normal(0, 1, n), "i": rng.integers(0, 500, n), "h": rng.normal(0, 1, n)})
    profile = ReferenceProfile.from_bytes(build_profile(ref, MonitorDefinition(model="m")).to_bytes())
    cur_i = rng.integers(20, 520, n)
    cur_a = np.where(rng.random(n) < 0.1, np.nan, rng.normal(0.3, 1, n)).astype(np.float32)
    base = pd.DataFrame(
        {"a": cur_a.astype(np.float64), "i": cur_i.astype(np.float64), "h": rng.normal(0, 1, n)}
    )
    native = pd.DataFrame({"a": cur_a, "i": cur_i, "h": base["h"].to_numpy()})
    strided = pd.DataFrame(np.asfortranarray(base.to_numpy()).copy(order="C"), columns=list(base.columns))
    assert not strided["a"].to_numpy(copy=False).flags.c_contiguous
    expected = run_check(profile, base)
    for window in (native, strided):
        got = run_check(profile, window)
        assert got.content_hash == expected.content_hash
        assert {k: c.score for k, c in got.columns.items()} == {
            k: c.score for k, c in expected.columns.items()
        }
    assert expected.columns["a"].test == "wasserstein" and expected.columns["i"].test == "wasserstein"


def test_numerical_check_imports_no_evidently_scipy_or_jsonschema() -> None:
    """The hot path (Wasserstein on numerical columns) needs numpy, pandas and the definition (pydantic)
    only; Evidently, scipy and jsonschema are imported by the paths that use them."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from monitors import MonitorDefinition, ReferenceProfile, build_profile, run_check\n"
        "rng = np.random.default_rng(0)\n"
        "ref = pd.DataFrame({f'x{i}': rng.normal(0, 1, 2000) for i in range(3)})\n"
        "blob = build_profile(ref, MonitorDefinition(model='m')).to_bytes()\n"
        "loaded = [m for m in ('evidently', 'scipy', 'jsonschema') if m in sys.modules]\n"
        "r = run_check(ReferenceProfile.from_bytes(blob), ref + 0.1)\n"
        "assert r.status in ('ok', 'drift')\n"
        "print(sorted(m for m in ('evidently', 'scipy', 'jsonschema') if m in sys.modules), loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
