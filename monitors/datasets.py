"""A realistic synthetic credit-default table, with an optional "downturn" drift.

Used by tests and the demo: features a loan-default classifier would see (correlated numeric columns,
categoricals, a binary target that depends on them). ``drift`` (0..1) injects a realistic economic
downturn: a share of applicants from a new segment with lower incomes, higher debt-to-income, lower
credit scores, more self-employed/unemployed applicants and more defaults — the kind of shift that
should trigger a retrain. ``drift=0`` with another seed is a same-distribution sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FEATURES", "TARGET", "flip_correlation", "make_credit", "shift_segment"]

TARGET = "default"
FEATURES = [
    "age",
    "income",
    "loan_amount",
    "term_months",
    "credit_score",
    "debt_to_income",
    "open_accounts",
    "employment",
    "home_ownership",
    "region",
    "purpose",
]

_EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired"]
_HOME = ["rent", "own", "mortgage"]
_REGIONS = ["north", "south", "east", "west", "central"]
_PURPOSE = ["car", "home_improvement", "debt_consolidation", "education", "business"]


def make_credit(n: int = 10_000, seed: int = 0, drift: float = 0.0, concept: float = 0.0) -> pd.DataFrame:
    """``n`` loan applications; ``drift`` in [0, 1] is the share of the downturn segment (see module doc).

    ``concept`` in [0, 1] is a concept shift: the same applicants (inputs drawn exactly as with
    ``concept=0``), but the outcome follows another rule — low debt and high scores no longer protect, a
    new product defaults among prime borrowers — so a model trained before loses accuracy while no input
    column moves."""
    import pandas as pd

    if not 0.0 <= drift <= 1.0:
        raise ValueError("drift must be within [0, 1]")
    if not 0.0 <= concept <= 1.0:
        raise ValueError("concept must be within [0, 1]")
    rng = np.random.default_rng(seed)
    downturn = rng.random(n) < drift
    age = np.clip(rng.normal(41, 11, n), 18, 85).round()
    employment = np.where(
        downturn,
        rng.choice(_EMPLOYMENT, n, p=[0.45, 0.25, 0.25, 0.05]),
        rng.choice(_EMPLOYMENT, n, p=[0.72, 0.15, 0.05, 0.08]),
    )
    base_income = np.exp(rng.normal(10.8, 0.45, n) + 0.01 * (age - 41))
    income = base_income * np.where(employment == "unemployed", 0.35, 1.0) * np.where(downturn, 0.7, 1.0)
    loan_amount = np.clip(
        income * rng.uniform(0.1, 0.6, n) * np.where(downturn, 1.25, 1.0), 1000, None
    ).round(-2)
    term = np.where(rng.random(n) < np.where(downturn, 0.6, 0.35), 60, 36)
    dti = np.clip(rng.normal(0.28, 0.09, n) + np.where(downturn, 0.12, 0.0), 0.0, 0.95)
    credit_score = np.clip(
        rng.normal(700, 55, n) - 120 * (dti - 0.28) - np.where(downturn, 45, 0), 300, 850
    ).round()
    open_accounts = rng.poisson(np.where(downturn, 9, 6), n)
    home = rng.choice(_HOME, n, p=[0.35, 0.25, 0.40])
    region = np.where(downturn, rng.choice(_REGIONS, n, p=[0.1, 0.4, 0.1, 0.1, 0.3]), rng.choice(_REGIONS, n))
    purpose = rng.choice(_PURPOSE, n, p=[0.25, 0.2, 0.35, 0.1, 0.1])
    logit = (
        -2.2
        + 4.5 * (dti - 0.28)
        - 0.012 * (credit_score - 700)
        + 0.6 * (employment == "unemployed")
        + 0.25 * (term == 60)
        - 0.3 * (home == "own")
        + 0.4 * downturn
        + concept * (2.6 - 9.0 * (dti - 0.28) + 0.024 * (credit_score - 700))
    )
    default = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "age": age,
            "income": income.round(2),
            "loan_amount": loan_amount,
            "term_months": term,
            "credit_score": credit_score,
            "debt_to_income": dti.round(4),
            "open_accounts": open_accounts,
            "employment": employment,
            "home_ownership": home,
            "region": region,
            "purpose": purpose,
            TARGET: default,
        }
    )


def flip_correlation(frame: pd.DataFrame, a: str, b: str, seed: int = 0, noise: float = 0.3) -> pd.DataFrame:
    """``frame`` with column ``b`` re-paired to ``a`` so that their rank correlation changes sign while
    every column keeps exactly its values (so every marginal is unchanged): ``b``'s values are handed
    out in the reverse order of ``a``'s noisy ranks."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    ranks = np.argsort(np.argsort(frame[a].to_numpy() + rng.normal(0, noise * frame[a].std(), n)))
    values = np.sort(frame[b].to_numpy())[::-1]
    return frame.assign(**{b: values[ranks]})


def shift_segment(frame: pd.DataFrame, column: str, value: object, seed: int = 0) -> pd.DataFrame:
    """``frame`` with a downturn confined to the rows where ``column == value``: lower incomes and
    credit scores, more debt, longer terms there; every other row unchanged."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    rows = out[column] == value
    k = int(rows.sum())
    out.loc[rows, "income"] = (out.loc[rows, "income"] * 0.55).round(2)
    out.loc[rows, "loan_amount"] = np.clip(out.loc[rows, "loan_amount"] * 1.6, 1000, None).round(-2)
    out.loc[rows, "debt_to_income"] = np.clip(out.loc[rows, "debt_to_income"] + 0.18, 0.0, 0.95).round(4)
    out.loc[rows, "credit_score"] = np.clip(out.loc[rows, "credit_score"] - 80, 300, 850)
    out.loc[rows, "open_accounts"] = out.loc[rows, "open_accounts"] + rng.poisson(4, k)
    out.loc[rows, "term_months"] = np.where(rng.random(k) < 0.7, 60, 36)
    return out
