"""The Evidently HTML report of a check, built on a bounded sample so it stays fast.

Evidently's Report takes minutes on a million rows; the report is for a human looking at *why* a check
fired, so it compares the profile's stored reference sample with an equally bounded random sample of the
window. Its figures can therefore differ slightly from the check's, which ran on all rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from monitors.check import CheckResult
    from monitors.profile import ReferenceProfile

__all__ = ["render_report", "report_key"]


def report_key(result: CheckResult) -> str:
    """Where the report of ``result`` lives in the bucket (one per event id, so re-runs overwrite it)."""
    return f"reports/{result.model}/{result.event_id}.html"


def render_report(profile: ReferenceProfile, current: pd.DataFrame, sample_rows: int | None = None) -> str:
    """HTML of Evidently's ``DataDriftPreset`` on at most ``sample_rows`` rows per side."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    n = sample_rows or profile.definition.report_sample_rows
    names = [c for c in profile.columns if c in current.columns]
    reference = profile.sample if profile.sample is not None else None
    if reference is None:
        raise ValueError("the profile carries no reference sample")
    reference = reference[[c for c in names if c in reference.columns]]
    window = current[list(reference.columns)]
    if len(window) > n:
        window = window.sample(n=n, random_state=0)
    if len(reference) > n:
        reference = reference.sample(n=n, random_state=0)
    snapshot = Report([DataDriftPreset()]).run(
        window.reset_index(drop=True), reference.reset_index(drop=True)
    )
    return snapshot.get_html_str(as_iframe=False)
