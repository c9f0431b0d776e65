"""The multivariate test's sample of a window: the rows whose window positions hash lowest.

Each row's key is a bijective 64-bit mix of its position in the window, so the ``k`` rows with the
smallest keys are a uniform sample without replacement — and the same rows whether one process reads
the window or shards read its parts and keep their own ``k`` lowest (the ``k`` lowest of the union are
among them: the merge is associative and commutative).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KEY", "merge_sample", "sample_keys", "sample_positions"]

KEY = "_key"
_SEED = np.uint64(0x5DEECE66D)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def sample_keys(start: int, count: int) -> np.ndarray:
    """The keys of window rows ``start .. start + count - 1`` (splitmix64 of the position)."""
    x = np.arange(start, start + count, dtype=np.uint64) + _SEED
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _C1
        x ^= x >> np.uint64(27)
        x *= _C2
        x ^= x >> np.uint64(31)
    return x


def sample_positions(rows: int, k: int) -> np.ndarray:
    """The positions of the ``k`` sampled rows of a ``rows``-row window, in key order."""
    keys = sample_keys(0, rows)
    picked = np.argpartition(keys, k - 1)[:k] if rows > k else np.arange(rows)
    return picked[np.argsort(keys[picked], kind="stable")]


def merge_sample(a: pd.DataFrame | None, b: pd.DataFrame | None, k: int) -> pd.DataFrame | None:
    """The ``k`` rows of ``a`` ∪ ``b`` (both with a :data:`KEY` column) with the smallest keys, in key
    order."""
    import pandas as pd

    if a is None or b is None:
        return b if a is None else a
    both = pd.concat([a, b], ignore_index=True)
    if len(both) > k:
        both = both.iloc[np.argpartition(both[KEY].to_numpy(), k - 1)[:k]]
    return both.sort_values(KEY, kind="stable").reset_index(drop=True)
