"""``driftloop monitor``: run a drift check of one model's current window against its reference.

Exit codes: 0 the check completed (also when drift was found, unless ``--fail-on-drift``: then 3);
2 bad usage or input (including a window that fails the data-quality checks — its event is still
published); 1 a runtime failure (Kafka / S3 unreachable).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from driftloop.cli._common import console, settings_from
from driftloop.errors import DataError, NotFound, UsageError

if TYPE_CHECKING:
    from driftloop.config import Settings
    from monitors import MonitorDefinition, ReferenceProfile
    from monitors.signals import PerformanceContext

__all__ = ["app"]

app = typer.Typer(
    help="Drift monitors: check a model's current data against its reference.", no_args_is_help=True
)

EXIT_DRIFT = 3


def _definition(model: str, path: Path | None) -> MonitorDefinition:
    from pydantic import ValidationError

    from monitors import MonitorDefinition

    if path is None:
        try:
            return MonitorDefinition(model=model)
        except ValidationError:
            raise UsageError(
                f"--model {model!r} is not a valid model name", "use lowercase RFC 1123 (a-z, 0-9, -)"
            ) from None
    if not path.is_file():
        raise UsageError(f"{path}: no such file", "pass a monitor definition (YAML or JSON)")
    import yaml

    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return MonitorDefinition.model_validate({"model": model, **raw})
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[0:3]
        raise UsageError(f"{path}: invalid monitor definition: {' '.join(first)}", "fix the file") from None


def _read_bytes(uri: str, settings: Settings) -> bytes:
    if uri.startswith("s3://"):
        from driftloop.s3 import S3Store, parse_s3_uri

        bucket, key = parse_s3_uri(uri)
        try:
            return S3Store(settings, bucket=bucket).get_bytes(key)
        except NotFound:
            raise DataError(f"{uri} does not exist", "check the bucket and key") from None
    path = Path(uri)
    if not path.is_file():
        raise UsageError(f"{uri}: no such file", "pass an existing reference file or s3:// URI")
    return path.read_bytes()


def _reference(
    uri: str | None, model: str, definition: MonitorDefinition, settings: Settings
) -> ReferenceProfile:
    """A profile from ``--reference`` (a stored profile or a CSV/Parquet table to build one from), or the
    registered champion's profile."""
    from monitors import ReferenceProfile, build_profile
    from monitors.profile import MAGIC
    from monitors.window import load_table

    if uri is None:
        return _registered_profile(model, settings)
    raw = _read_bytes(uri, settings)
    if raw.startswith(MAGIC):
        return ReferenceProfile.from_bytes(raw)
    return build_profile(load_table(uri, settings), definition)


def _registered_profile(model: str, settings: Settings) -> ReferenceProfile:
    """The champion's profile from the model registry (``models/<model>/<version>/reference_profile.bin``)."""
    from monitors.publish import champion_profile

    try:
        return champion_profile(settings, model)
    except DataError as exc:
        raise UsageError(
            f"{exc.message} (no --reference given)", "pass --reference PATH|s3://... or promote a version"
        ) from None


def _performance(model: str, settings: Settings) -> PerformanceContext | None:
    from monitors.publish import champion_performance

    try:
        return champion_performance(settings, model)
    except DataError:
        return None


def _print_signals(result: Any) -> None:
    perf = result.performance
    if perf is not None:
        for kind, values in (
            ("reference", perf.reference),
            ("measured", perf.actual),
            ("estimated", perf.estimated),
        ):
            if values:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(values.items()))
                console.print(f"performance {kind}: {shown}")
        console.print(
            f"performance: {perf.labels} labels; {perf.metric} degraded: measured {perf.degraded}, "
            f"estimated {perf.estimated_degraded} (drop threshold {perf.threshold})"
        )
    mv = result.multivariate
    if mv is not None:
        console.print(
            f"multivariate: {mv.method} {mv.score:.3f} (threshold {mv.threshold}) drifted {mv.drifted}"
        )
    for seg in [s for s in result.segments or () if s.dataset_drift]:
        console.print(
            f"[red]segment drift[/]: {seg.column}={seg.value} ({seg.rows} rows, share {seg.drift_share:.2f})"
        )
    for note in result.notes:
        console.print(f"[yellow]note[/]: {note}")
    if result.reason:
        console.print(f"retrain requested: reason {result.reason}")


def _print(result: Any, event_id: str) -> None:
    from rich.table import Table

    table = Table(
        title=f"{result.model} (version {result.model_version}): "
        f"{result.current_rows} rows vs {result.reference_rows} reference rows"
    )
    for col in ("column", "kind", "test", "score", "threshold", "drifted"):
        table.add_column(col)
    for name, c in result.columns.items():
        label = name if c.role == "feature" else f"{name} ({c.role})"
        table.add_row(
            label, c.kind, c.test, f"{c.score:.4g}", f"{c.threshold:g}", "[red]yes[/]" if c.drifted else "no"
        )
    if result.columns:
        console.print(table)
    for p in result.quality:
        console.print(f"[{'red' if p.severity == 'error' else 'yellow'}]{p.severity}[/]: {p.message}")
    verdict = {
        "drift": "[red]dataset drift[/]",
        "ok": "[green]no dataset drift[/]",
        "quality": "[red]data-quality problem[/]",
    }
    console.print(
        f"{verdict[result.status]}: {result.number_of_drifted_columns}/{result.number_of_columns} "
        f"columns drifted (share {result.drift_share:.2f}, threshold {result.drift_share_threshold}) "
        f"in {result.duration_s:.3f}s "
        f"· event {event_id}"
    )


def _sharded_files(
    current: str, shards: int | None, settings: Settings, last: int | None, minutes: float | None
) -> list[str] | None:
    """The Parquet files of a window to check in shards (None: check it in one process)."""
    from monitors.shards import is_parquet, parquet_files, shard_count

    if current == "kafka" or current.startswith("kafka://") or not is_parquet(current):
        if shards is not None and shards > 1:
            raise UsageError(
                f"--shards needs a Parquet window, not {current}",
                "pass a .parquet file, a directory or an s3:// prefix of them, or drop --shards",
            )
        return None
    if last is not None or minutes is not None:
        raise UsageError("--last / --minutes apply only to --current kafka", "drop them for a file window")
    files = parquet_files(current, settings)
    count = shards if shards is not None else shard_count(files, settings)
    # a directory / prefix of files is read by the sharded reader even in one shard
    return files if count > 1 or not current.lower().endswith((".parquet", ".pq")) else None


def _run_sharded(
    settings: Settings,
    profile: ReferenceProfile,
    definition: MonitorDefinition,
    current: str,
    files: list[str],
    shards: int | None,
    performance: PerformanceContext | None,
    labels: str | None,
) -> tuple[Any, Any]:
    from monitors.check import WindowInfo
    from monitors.sharded import run_sharded
    from monitors.shards import shard_count
    from monitors.window import load_labels

    label_frame = load_labels(labels, settings, model=definition.model) if labels else None
    return run_sharded(
        profile,
        files,
        shards or shard_count(files, settings),
        definition,
        settings=settings,
        performance=performance,
        labels=label_frame,
        info=WindowInfo(source=current),
    )


@app.command("run")
def run(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="model name (the event subject)"),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="reference table (CSV/Parquet) or stored profile, path or s3://; "
        "default: the registered champion's profile",
    ),
    current: str = typer.Option(
        ..., "--current", help="current window: path, s3://..., or kafka (inference log)"
    ),
    last: int | None = typer.Option(None, "--last", min=1, help="with --current kafka: the last N records"),
    minutes: float | None = typer.Option(
        None, "--minutes", min=0.0, help="with --current kafka: the last T minutes"
    ),
    definition_file: Path | None = typer.Option(None, "--definition", help="monitor definition (YAML/JSON)"),
    publish: bool = typer.Option(True, "--publish/--no-publish", help="publish the event to the drift topic"),
    report: Path | None = typer.Option(None, "--report", help="also write the Evidently HTML report here"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help=f"exit {EXIT_DRIFT} when drift is found"
    ),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="feedback labels joined by request_id: kafka (the feedback topic) or a CSV/Parquet table "
        "with request_id,label; default: the window's own target column, when it has one",
    ),
    shards: int | None = typer.Option(
        None,
        "--shards",
        min=1,
        help="split a Parquet window (a file, a directory or an s3:// prefix of files) into N shards "
        "checked in parallel processes and merged; default: one shard per 5M rows",
    ),
) -> None:
    """Check a model's current window for drift (Evidently's stattests) and performance, and publish a
    CloudEvent."""
    from monitors.metrics import metrics
    from monitors.publish import check_and_publish, publish_result
    from monitors.signals import split_log_fields
    from monitors.window import load_labels, load_window, window_start_ms

    settings = settings_from(ctx)
    if reference is None:  # the champion's profile: the model must be one of ours (a ConfigError names them)
        settings.model(model)
    definition = _definition(model, definition_file)
    profile = _reference(reference, model, definition, settings)
    if definition_file is None:
        definition = profile.definition.model_copy(update={"model": model})
    performance = _performance(model, settings) if reference is None else None
    if labels is not None and performance is None:
        raise UsageError(
            "--labels needs the registered champion's holdout metrics to compare with",
            "drop --reference (check against the champion) or drop --labels",
        )
    files = _sharded_files(current, shards, settings, last, minutes)
    if files is not None:
        sharded, features = _run_sharded(
            settings, profile, definition, current, files, shards, performance, labels
        )
        out = publish_result(
            settings,
            profile,
            sharded,
            features,
            publish=publish,
            report_uri=str(report.resolve()) if report is not None else None,
        )
    else:
        window, info = load_window(
            current,
            settings,
            model=model,
            last=last,
            minutes=minutes,
            prediction=definition.prediction,
            log_fields=True,
        )
        label_frame = (
            load_labels(labels, settings, model=model, since_ms=window_start_ms(info)) if labels else None
        )
        out = check_and_publish(
            settings,
            profile,
            window,
            definition=definition,
            info=info,
            publish=publish,
            report_uri=str(report.resolve()) if report is not None else None,
            performance=performance,
            labels=label_frame,
        )
        features = split_log_fields(window, definition)
    if report is not None and features is not None:
        from monitors.report import render_report

        report.write_text(render_report(profile, features, result=out.result))
    result, event = out.result, out.event
    metrics().record(result)
    if as_json:
        doc = {**result.to_dict(), "event_id": event.id, "event_type": event.type, "published": publish}
        typer.echo(json.dumps(doc, indent=2, default=str))
    else:
        _print(result, event.id)
        _print_signals(result)
    out.raise_on_quality()
    if fail_on_drift and result.dataset_drift:
        raise typer.Exit(EXIT_DRIFT)
