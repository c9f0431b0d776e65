"""The Evidently HTML report of a check, built on a bounded sample so it stays fast.

Evidently's Report takes minutes on a million rows; the report is for a human looking at *why* a check
fired, so it compares the profile's stored reference sample with an equally bounded random sample of the
window. Its figures can therefore differ slightly from the check's, which ran on all rows.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from monitors.check import CheckResult
    from monitors.profile import ReferenceProfile

__all__ = ["render_report", "report_key", "signals_html"]


def report_key(result: CheckResult) -> str:
    """Where the report of ``result`` lives in the bucket (one per event id, so re-runs overwrite it)."""
    return f"reports/{result.model}/{result.event_id}.html"


def render_report(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    sample_rows: int | None = None,
    *,
    result: CheckResult | None = None,
) -> str:
    """HTML of Evidently's ``DataDriftPreset`` on at most ``sample_rows`` rows per side, with the
    check's performance, multivariate and segment results in front when ``result`` carries them."""
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
    html: str = snapshot.get_html_str(as_iframe=False)
    extra = signals_html(result) if result is not None else ""
    if extra:
        head, sep, tail = html.partition("<body>")
        html = head + sep + extra + tail if sep else extra + html
    return html


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<h3>{escape(title)}</h3><table border=1 cellpadding=4><tr>{cells}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def signals_html(result: CheckResult) -> str:
    """A plain HTML summary of the signals beyond univariate drift (empty when none was computed)."""
    parts: list[str] = []
    perf = result.performance
    if perf is not None:
        band = perf.estimated_band or {}
        metrics = sorted(set(perf.reference) | set(perf.actual or {}) | set(perf.estimated or {}))
        rows = [
            [
                m + (" (watched)" if m == perf.metric else ""),
                perf.reference.get(m),
                (perf.actual or {}).get(m),
                (perf.estimated or {}).get(m),
                " – ".join(f"{v:.4f}" for v in band[m]) if m in band else None,
            ]
            for m in metrics
        ]
        parts.append(
            _table(
                f"Performance: {perf.labels} labels; degraded {perf.degraded}, "
                f"estimated degraded {perf.estimated_degraded} (drop threshold {perf.threshold})",
                ["metric", "reference (holdout)", "measured", "estimated", "95% band"],
                rows,
            )
        )
    mv = result.multivariate
    if mv is not None:
        parts.append(
            _table(
                "Multivariate drift",
                ["method", "score", "threshold", "drifted"],
                [[mv.method, mv.score, mv.threshold, mv.drifted]],
            )
        )
    if result.segments:
        parts.append(
            _table(
                "Segments",
                ["column", "value", "rows", "dataset drift", "drift share", "drifted columns"],
                [
                    [s.column, s.value, s.rows, s.dataset_drift, s.drift_share, ", ".join(s.drifted_columns)]
                    for s in result.segments
                ],
            )
        )
    if result.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in result.notes) + "</ul>")
    if not parts:
        return ""
    signals = ", ".join(result.signals) or "none"
    title = f"<h2>driftloop signals: {escape(signals)}</h2>"
    return f"<section id='driftloop-signals'>{title}{''.join(parts)}</section>"
