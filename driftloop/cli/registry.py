"""``driftloop registry``: list, show, promote and roll back model versions in the S3 registry."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftloop.cli._common import console, settings_from

if TYPE_CHECKING:
    from driftloop.registry import Registry

__all__ = ["app"]

app = typer.Typer(
    help="The model registry: versions, aliases (champion, canary), lineage.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]


def _registry(ctx: typer.Context) -> Registry:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    return Registry(S3Store(settings_from(ctx)))


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def _primary(metrics: dict[str, Any]) -> str:
    name = metrics.get("primary_metric")
    holdout = metrics.get("holdout") or {}
    if name and name in holdout:
        return f"{name}={holdout[name]:.4f}"
    return ""


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@app.command("list")
def list_(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="a model; default: every model")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List models, or one model's versions with their aliases."""
    from rich.table import Table

    reg = _registry(ctx)
    models = [model] if model else reg.models()
    rows = []
    for name in models:
        aliases = reg.aliases(name)
        for mv in reg.versions(name):
            roles = [a for a, v in aliases.items() if v == mv.version]
            rows.append(
                {
                    "model": name,
                    "version": mv.version,
                    "aliases": roles,
                    "created_at": mv.created_at,
                    "metrics": mv.metrics,
                    "reason": mv.lineage.get("reason", ""),
                    "workflow": mv.lineage.get("workflow_name", ""),
                }
            )
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        console.print("no model versions" + (f" for {model}" if model else ""))
        return
    table = Table()
    for col in ("model", "version", "aliases", "created (UTC)", "holdout", "reason", "workflow"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["model"],
            r["version"],
            ", ".join(r["aliases"]),
            _when(r["created_at"]),
            _primary(r["metrics"]),
            r["reason"],
            r["workflow"],
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model")],
    version: Annotated[
        str, typer.Argument(help="a version (v3), an alias (champion, canary) or latest")
    ] = "champion",
    as_json: JsonFlag = False,
) -> None:
    """Show one version: sha256, metrics, lineage, data snapshots, records."""
    reg = _registry(ctx)
    mv = reg.resolve(model, version)
    aliases = [a for a, v in reg.aliases(model).items() if v == mv.version]
    data = {**mv.to_dict(), "aliases": aliases}
    if as_json:
        _echo_json(data)
        return
    console.print(f"[bold]{model} {mv.version}[/] {' '.join(f'[green]{a}[/]' for a in aliases)}")
    console.print(f"created   {_when(mv.created_at)} UTC")
    console.print(f"sha256    {mv.sha256}", highlight=False)
    console.print(f"files     {', '.join(mv.files)}", highlight=False)
    # soft_wrap: long JSON stays on one line, so it can be copied from a log or a file
    console.print(f"snapshots {', '.join(mv.data_snapshots) or '-'}", highlight=False, soft_wrap=True)
    console.print(
        "metrics   " + json.dumps(mv.metrics, sort_keys=True, default=str), highlight=False, soft_wrap=True
    )
    console.print(
        "lineage   " + json.dumps(mv.lineage, sort_keys=True, default=str), highlight=False, soft_wrap=True
    )
    if mv.records:
        records = json.dumps(mv.records, sort_keys=True, default=str)
        console.print("records   " + records, highlight=False, soft_wrap=True)


@app.command("promote")
def promote(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model")],
    version: Annotated[str, typer.Argument(help="the version to make champion (e.g. v3)")],
    reason: Annotated[str, typer.Option(help="recorded in the alias history")] = "manual promote",
    as_json: JsonFlag = False,
) -> None:
    """Make VERSION the champion (a canary of that version is retired)."""
    reg = _registry(ctx)
    previous = reg.get_alias(model, "champion")
    reg.promote(model, version, reason=reason)
    if as_json:
        _echo_json({"model": model, "champion": version, "previous": previous})
        return
    console.print(f"{model}: champion {previous or '-'} → {version}", highlight=False)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model")],
    reason: Annotated[str, typer.Option(help="recorded in the alias history")] = "manual rollback",
    as_json: JsonFlag = False,
) -> None:
    """Drop the canary; with no canary, put the previous champion back."""
    reg = _registry(ctx)
    before = reg.aliases(model)
    champion = reg.rollback(model, reason=reason)
    if as_json:
        _echo_json({"model": model, "champion": champion, "before": before})
        return
    if before.get("canary"):
        console.print(
            f"{model}: canary {before['canary']} withdrawn; champion stays {champion or '-'}", highlight=False
        )
    else:
        console.print(f"{model}: champion {before.get('champion') or '-'} → {champion}", highlight=False)


@app.command("resign")
def resign(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Sign a registry written before records were signed (metadata, aliases, history).

    It vouches for what the bucket holds now: run it once, on a bucket nobody else could have written.
    A version whose model file no longer matches its sha256 is left unsigned (and so refused)."""
    from driftloop.registry_resign import resign as run

    report = run(_registry(ctx))
    if as_json:
        _echo_json({"signed": report.signed, "kept": report.kept, "skipped": report.skipped})
        return
    for key in report.signed:
        console.print(f"signed   {key}", highlight=False)
    for line in report.skipped:
        console.print(f"[yellow]skipped[/] {line}", highlight=False)
    console.print(
        f"{len(report.signed)} signed, {len(report.kept)} already signed, {len(report.skipped)} skipped",
        highlight=False,
    )


@app.command("keygen")
def keygen() -> None:
    """Print a new Ed25519 key pair for a cluster: the private key for the Secret of the signing steps,
    the public key for everything that only verifies."""
    from driftloop.signing import generate_keypair

    private, public = generate_keypair()
    typer.echo(f"signing-key={private}")
    typer.echo(f"verify-key={public}")
