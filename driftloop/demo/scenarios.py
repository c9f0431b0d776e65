"""The demo's worlds: for each built-in example, its data before and after a drift, and how to tell it.

``driftloop demo --example NAME`` runs the same loop on any of them; the model itself is an ordinary
model spec (:data:`driftloop.modelspec.EXAMPLES`) whose trainer lives in an example module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from driftloop.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SCENARIOS", "Scenario", "scenario"]


@dataclass(frozen=True)
class Scenario:
    """``data(n, seed, drifted)`` gives ``n`` labelled rows; the texts go on the timeline."""

    model: str
    rows_are: str
    drift: str
    data: Callable[[int, int, bool], pd.DataFrame]
    #: ``concept_data(n, seed, drifted)``: rows after a concept shift (same inputs — the downturn's when
    #: ``drifted`` — new outcomes), for ``driftloop demo --shift concept|both``; None = no such world.
    concept: str = ""
    concept_data: Callable[[int, int, bool], pd.DataFrame] | None = None


def _credit(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    from driftloop.demo.data import applications

    return applications(n, seed=seed, drifted=drifted)


def _credit_concept(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    from driftloop.demo.data import concept_applications

    return concept_applications(n, seed=seed, drifted=drifted)


def _demand() -> Callable[[int, int, bool], pd.DataFrame]:
    # the world's data comes from the built-in example's module, whatever code the model itself runs
    from driftloop.modelspec import ModelSpec, example_spec
    from driftloop.usercode import load_callable

    builtin = ModelSpec.model_validate(example_spec("demand"))
    make = load_callable("demand", "code_dir", "demand_model:make_demand", builtin)
    return lambda n, seed, drifted: make(n, seed=seed, drifted=drifted)


SCENARIOS = ("credit", "demand")


def scenario(name: str) -> Scenario:
    """The scenario of the built-in example ``name``."""
    if name == "credit":
        return Scenario(
            "credit",
            "labelled loan applications",
            "downturn injected: a new partner's self-employed applicants, lower incomes, more defaults",
            _credit,
            "concept shift injected: the same applicants, but prime borrowers of a new product default",
            _credit_concept,
        )
    if name == "demand":
        return Scenario(
            "demand",
            "store-days of units sold (a regression)",
            "price war injected: prices fall, promotions double, customers react more to price",
            _demand(),
        )
    raise UsageError(f"no demo example {name!r}", f"use one of {', '.join(SCENARIOS)}")
