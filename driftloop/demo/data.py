"""The demo's world: loan applications before and after a downturn.

Built on :func:`monitors.datasets.make_credit`. After the drift, a new lending partner brings a
segment of self-employed applicants who default far more often than the old data taught the model —
a covariate shift the monitor sees in the inputs, plus a change in who defaults that makes the old
champion measurably worse on live traffic, so the retrained model earns its promotion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CONCEPT_LEVEL", "DRIFT_LEVEL", "SEGMENT_DEFAULT_RATE", "applications", "concept_applications"]

DRIFT_LEVEL = 0.6
SEGMENT_DEFAULT_RATE = 0.85
#: The concept shift of ``driftloop demo --shift concept``: the same applicants, new outcomes.
CONCEPT_LEVEL = 1.0


def applications(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    """``n`` labelled applications (features + ``default``), before or after the downturn."""
    from monitors.datasets import TARGET, make_credit

    df = make_credit(n, seed=seed, drift=DRIFT_LEVEL if drifted else 0.0)
    if drifted:
        rng = np.random.default_rng(seed + 10_000)
        segment = (df["employment"] == "self_employed").to_numpy()
        shifted = rng.random(len(df)) < SEGMENT_DEFAULT_RATE
        df.loc[segment, TARGET] = shifted[segment].astype(df[TARGET].dtype)
    return df


def concept_applications(n: int, seed: int, drifted: bool = False) -> pd.DataFrame:
    """``n`` labelled applications after a concept shift: drawn exactly like the applicants before it (those
    of the downturn when ``drifted``), but who defaults follows another rule (prime borrowers of a new
    product default) — no input column moves, so only the labels can tell."""
    from monitors.datasets import make_credit

    return make_credit(n, seed=seed, drift=DRIFT_LEVEL if drifted else 0.0, concept=CONCEPT_LEVEL)
