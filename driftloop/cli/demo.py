"""``driftloop demo``: run the whole loop end to end on the embedded Kafka and S3."""

from __future__ import annotations

import json

import typer

from driftloop.cli._common import console, err_console, settings_from
from driftloop.errors import DriftloopError


def demo(
    ctx: typer.Context,
    rows: int = typer.Option(6000, min=500, help="training rows per model version"),
    example: str = typer.Option(
        "credit", "--example", help="the built-in example: credit (classification) or demand (regression)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as JSON on stdout"),
    shift: str = typer.Option(
        "",
        "--shift",
        help="what changes: drift (the inputs: dataset drift triggers), concept (credit only: the "
        "outcomes; a performance drop measured on feedback labels triggers) or both, one after the other "
        "(default: both for credit, drift for demand)",
    ),
) -> None:
    """Train, serve, drift, detect, retrain, canary, promote — on one machine, with a timeline.

    Exits 0 only when the whole loop succeeded: each injected change detected and answered by one
    promoted retrain with lineage back to its event (v2 for the drift, v3 for the concept shift), and a
    burst of duplicate drift events started no second run.
    """
    from driftloop.demo import run_demo

    settings = settings_from(ctx)
    result = run_demo(settings, rows=rows, example=example, shift=shift, console=err_console)
    s = result.summary
    if as_json:
        console.print_json(json.dumps(s, default=str))
    err_console.print()
    for phase in s.get("phases") or []:
        lat = phase["latencies_s"]
        err_console.print(
            f"{phase['shift']} ({phase['reason']}, {phase['version']}): injected → detected "
            f"{lat['drift_to_detected']}s · detected → run {lat['detected_to_triggered']}s · "
            f"injected → promoted {lat['drift_to_promoted']}s",
            soft_wrap=True,
        )
    err_console.print(f"total {s['latencies_s']['total']}s", soft_wrap=True)
    err_console.print(
        f"drift report: {s['report']}\nrun summary:  {s['output_dir']}/summary.json", soft_wrap=True
    )
    if not result.ok:
        raise DriftloopError(
            "the demo loop did not complete: " + "; ".join(result.failures),
            "see the timeline above and the summary",
        )
    err_console.print("[bold green]demo succeeded[/]: the loop closed without a human")
