"""`driftloop workflow run`: run a compiled workflow on this machine with the local executor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli._common import console, err_console, parse_assignments, settings_from
from driftloop.errors import UsageError

if TYPE_CHECKING:
    from driftloop.local.executor import NodeResult

app = typer.Typer(
    help="Run Argo workflows locally (compiled YAML from manifests/ or any file).", no_args_is_help=True
)

_STYLE = {
    "Running": "cyan",
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Skipped": "yellow",
    "Omitted": "yellow",
}


def print_node(node: NodeResult) -> None:
    """Progress of a local run on stderr: one line per node that finished (or a pod that started)."""
    if node.type in ("StepGroup",) or (node.phase == "Running" and node.type != "Pod"):
        return
    style = _STYLE.get(node.phase, "white")
    extra = f" — {node.message}" if node.message and node.phase != "Succeeded" else ""
    err_console.print(f"[{style}]{node.phase:<9}[/] {node.label}{extra}", highlight=False, soft_wrap=True)


@app.command("run")
def run(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="WorkflowTemplate name, looked up under manifests/")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="a Workflow / WorkflowTemplate YAML")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="workflow parameter key=value")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print {phase, nodes} as JSON on stdout")] = False,
    templates_dir: Annotated[Path | None, typer.Option(help="where to look up template names")] = None,
) -> None:
    """Run NAME (or --file PATH) to completion; exit 0 when it Succeeded, 1 otherwise."""
    from driftloop.local.executor import find_template
    from driftloop.local.runs import run_local

    if (name is None) == (file is None):
        raise UsageError(
            "give a template NAME or --file PATH (one of them)",
            "e.g. `driftloop workflow run driftloop-retrain-credit -p reason=manual`",
        )
    settings = settings_from(ctx)
    tdir = templates_dir or Path(getattr(settings, "manifests_dir", "manifests"))
    params = parse_assignments(list(param or []), "-p")
    doc = file if file is not None else find_template(str(name), tdir)

    result = run_local(doc, params, settings, templates_dir=tdir, on_event=print_node)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    style = _STYLE.get(result.phase, "white")
    err_console.print(
        f"[{style}]{result.name} {result.phase}[/]"
        + (f": {result.message}" if result.message else "")
        + f" (record: {result.record_path})",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(0 if result.phase == "Succeeded" else 1)


def _signal_run(ctx: typer.Context, name: str, what: str, params: dict[str, str] | None = None) -> None:
    from driftloop.local.executor import is_live, load_run, request_suspended, run_dir

    data_dir = settings_from(ctx).data_dir
    result = load_run(data_dir, name)
    if not is_live(result):
        raise UsageError(
            f"run {name} is not running ({result.phase})", "`driftloop runs list` shows the runs"
        )
    request_suspended(run_dir(data_dir, name), what, params)


@app.command("resume")
def resume(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the run (workflow) name")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="an output parameter of the suspended node, key=value"),
    ] = None,
) -> None:
    """Resume a local run's suspended nodes (`argo resume`)."""
    from driftloop.local.executor import RESUME

    _signal_run(ctx, name, RESUME, parse_assignments(list(param or []), "-p"))
    err_console.print(f"resumed {name}", highlight=False)


@app.command("stop")
def stop(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the run (workflow) name")]) -> None:
    """Stop a local run at its suspended node; its exit handler runs (`argo stop`)."""
    from driftloop.local.executor import STOP

    _signal_run(ctx, name, STOP)
    err_console.print(f"stopping {name}: its exit handler runs", highlight=False)
