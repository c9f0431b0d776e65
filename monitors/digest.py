"""Content digests of a window's columns that do not depend on how the window is cut.

A column's digest is a *multiset* hash: every value is mixed into two 64-bit lanes (the splitmix64
finaliser) and the lanes are summed modulo 2**64, with the count of missing values beside them. Two parts
of a column hash to lanes whose sum is the whole column's, so a sharded check and a single process give
the event the same ``content_hash`` — and so the same deterministic id — for the same window. Row order
does not enter it (no check result depends on it either).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Digest", "counts_digest", "numeric_digest"]

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_LANE2 = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 1 << 16  # values mixed at a time: the temporaries stay small whatever the column's length


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))
    x *= _C1
    x ^= x >> np.uint64(27)
    x *= _C2
    x ^= x >> np.uint64(31)
    return x


@dataclass(frozen=True)
class Digest:
    """Two summed hash lanes and the missing-value count; ``+`` combines two parts of a column."""

    lane1: int = 0
    lane2: int = 0
    missing: int = 0

    def __add__(self, other: Digest) -> Digest:
        mask = (1 << 64) - 1
        return Digest(
            (self.lane1 + other.lane1) & mask, (self.lane2 + other.lane2) & mask, self.missing + other.missing
        )

    def to_bytes(self) -> bytes:
        return struct.pack("<QQQ", self.lane1, self.lane2, self.missing)


def _lanes(bits: np.ndarray, weights: np.ndarray | None = None) -> tuple[int, int]:
    s1 = s2 = np.uint64(0)
    with np.errstate(over="ignore"):
        for a in range(0, bits.size, _CHUNK):
            chunk = bits[a : a + _CHUNK]
            h1, h2 = _mix(chunk), _mix(chunk ^ _LANE2)
            if weights is not None:
                w = weights[a : a + _CHUNK].astype(np.uint64)
                h1 *= w
                h2 *= w
            s1 += h1.sum(dtype=np.uint64)
            s2 += h2.sum(dtype=np.uint64)
    return int(s1), int(s2)


def numeric_digest(finite: np.ndarray, missing: int) -> Digest:
    """The digest of a numerical column from its finite values (float64, any order) and missing count."""
    bits = np.empty(min(finite.size, _CHUNK), dtype=np.float64)
    s1 = s2 = 0
    for a in range(0, finite.size, _CHUNK):
        part = finite[a : a + _CHUNK]
        buf = bits[: part.size]
        np.add(part, 0.0, out=buf)  # -0.0 + 0.0 is +0.0: equal values hash equal
        lanes = _lanes(buf.view(np.uint64))
        s1, s2 = s1 + lanes[0], s2 + lanes[1]
    mask = (1 << 64) - 1
    return Digest(s1 & mask, s2 & mask, int(missing))


def counts_digest(counts: pd.Series, missing: int) -> Digest:
    """The digest of a categorical column from its value counts (index: the values): each distinct value
    hashed once as text (an integral float as the integer, so ``1`` and ``1.0`` agree) and weighted by
    its count."""
    import pandas as pd

    keys = counts.index
    if keys.dtype.kind == "f":
        values = keys.to_numpy()
        with np.errstate(invalid="ignore"):
            as_int = np.isfinite(values) & (np.mod(values, 1) == 0)
            ints = np.where(as_int, values, 0).astype(np.int64).astype(str)
        text = np.where(as_int, ints, keys.astype(str))
    else:
        text = np.asarray(keys.astype(str), dtype=object)
    hashed = pd.util.hash_array(np.asarray(text, dtype=object), categorize=False)
    s1, s2 = _lanes(hashed, counts.to_numpy(dtype=np.int64))
    return Digest(s1, s2, int(missing))
