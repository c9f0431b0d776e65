"""`driftloop runs`: the runs the local executor recorded under <data_dir>/runs/."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from driftloop.cli._common import console, settings_from

app = typer.Typer(help="Local workflow runs (recorded by `driftloop workflow run`).", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _took(start: float | None, end: float | None) -> str:
    return f"{end - start:.1f}s" if start and end else "-"


@app.command("list")
def list_(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False
) -> None:
    """List recorded runs, newest first."""
    from driftloop.local.executor import list_runs

    runs = list_runs(settings_from(ctx).data_dir)
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {"name": r.name, "phase": r.phase, "started": r.started, "finished": r.finished}
                    for r in runs
                ]
            )
        )
        return
    table = Table("NAME", "PHASE", "STARTED", "DURATION", "NODES")
    for r in runs:
        table.add_row(r.name, r.phase, _when(r.started), _took(r.started, r.finished), str(len(r.nodes)))
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="run (workflow) name")],
    as_json: Annotated[bool, typer.Option("--json", help="print the whole record as JSON")] = False,
) -> None:
    """Show one run: its nodes, phases, timings, outputs and log files."""
    from driftloop.local.executor import load_run

    result = load_run(settings_from(ctx).data_dir, run)
    if as_json:
        console.print_json(json.dumps(result.to_record()))
        return
    console.print(
        f"{result.name}  {result.phase}  {_when(result.started)}  {_took(result.started, result.finished)}"
        + (f"  {result.message}" if result.message else ""),
        highlight=False,
    )
    table = Table("NODE", "TYPE", "PHASE", "DURATION", "RESULT / MESSAGE", "LOG")
    for n in result.nodes:
        detail = (
            n.message
            if n.phase != "Succeeded"
            else (n.result or json.dumps(n.parameters) if n.parameters else n.result or "")
        )
        table.add_row(
            n.label, n.type, n.phase, _took(n.started, n.finished), (detail or "")[:60], n.log or ""
        )
    console.print(table)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="run (workflow) name")],
    timeout_s: Annotated[float, typer.Option("--timeout", help="how long to wait for it to stop")] = 120.0,
) -> None:
    """Stop a running local run cleanly: its steps are stopped and its exit handler runs. Only the run
    stops — the process running it (`driftloop up`, `workflow run`) is asked through a request file in
    the run's directory, never signalled."""
    from driftloop.errors import UsageError, WorkflowError
    from driftloop.local.executor import is_live, load_run, request_cancel, run_dir

    data_dir = settings_from(ctx).data_dir
    result = load_run(data_dir, run)
    if result.phase != "Running" or not is_live(result) or result.owner_pid is None:
        raise UsageError(f"run {run} is not running ({result.phase})", "`driftloop runs list` shows the runs")
    request_cancel(run_dir(data_dir, run))
    console.print(f"stopping {run} (executor pid {result.owner_pid}); its exit handler runs", highlight=False)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = load_run(data_dir, run)
        if result.phase != "Running":
            console.print(f"{run} {result.phase}: {result.message}", highlight=False)
            return
        time.sleep(0.2)
    raise WorkflowError(f"run {run} still running after {timeout_s:g}s", "try again or stop its process")
