"""`driftloop sensor run|test`: the local sensor, and one event evaluated offline against the Sensor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from driftloop.cli._common import console, err_console, settings_from
from driftloop.errors import EventError

app = typer.Typer(
    help="Argo Events sensor: run it locally, or test an event against it.", no_args_is_help=True
)

EXIT_TRIGGERED, EXIT_FILTERED, EXIT_MALFORMED = 0, 3, 2


@app.command("run")
def run(
    ctx: typer.Context,
    sensor: Annotated[Path | None, typer.Option("--sensor", help="compiled Sensor YAML")] = None,
    no_execute: Annotated[
        bool, typer.Option("--no-execute", help="only record durable submissions, run nothing")
    ] = False,
) -> None:
    """Consume the drift topic and turn matching drift events into retraining runs (Ctrl-C stops)."""
    from driftloop.local.sensor.service import LocalSensor

    settings = settings_from(ctx)
    sensor_ = LocalSensor(settings, sensor, execute=not no_execute)
    err_console.print(f"sensor {sensor_.spec.name} ({sensor_.spec.source}) on {settings.topics.drift_events}")
    try:
        sensor_.run()
    finally:
        sensor_.stop()


@app.command("test")
def test(
    ctx: typer.Context,
    event: Annotated[Path, typer.Option("--event", help="a drift event (CloudEvent JSON) file")],
    sensor: Annotated[Path | None, typer.Option("--sensor", help="compiled Sensor YAML")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the evaluation as JSON")] = False,
) -> None:
    """Evaluate one event against the Sensor offline. Exit 0: it would trigger; 3: filtered out;
    2: malformed event or Sensor."""
    from driftloop.kafka import Record
    from driftloop.local.sensor.envelope import DeadLetter, to_event_data
    from driftloop.local.sensor.spec import find_sensor, load_sensor

    settings = settings_from(ctx)
    spec = load_sensor(sensor or find_sensor(settings.manifests_dir))
    if not event.is_file():
        raise EventError(f"event file {event} does not exist", "give --event PATH to a CloudEvent JSON file")
    record = Record(settings.topics.drift_events, 0, 0, None, event.read_bytes(), 0, {})
    data = to_event_data(record)
    if isinstance(data, DeadLetter):
        raise EventError(
            f"{event} would be dead-lettered: {data.reason}: {data.detail}", "fix the event (see the schema)"
        )
    decision = spec.evaluate(data)
    if as_json:
        console.print_json(json.dumps({"sensor": spec.name, **decision.to_json()}))
    else:
        _print(spec.name, decision)
    raise typer.Exit(EXIT_TRIGGERED if decision.triggered else EXIT_FILTERED)


def _print(name: str, decision: object) -> None:
    import yaml

    from driftloop.local.sensor.spec import Decision

    assert isinstance(decision, Decision)
    console.print(f"sensor {name}", highlight=False)
    for f in decision.filters:
        mark = "[green]pass[/]" if f.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {f.kind:<4} {f.name}  ({f.detail})", highlight=False, soft_wrap=True)
    if not decision.triggered:
        why = decision.error or "a filter failed"
        console.print(f"[yellow]filtered out[/]: {why}", highlight=False)
        return
    console.print("parameters:", highlight=False)
    for dest, value in decision.parameters.items():
        console.print(f"  {dest} = {value}", highlight=False, markup=False)
    console.print(f"[green]would create Workflow {decision.workflow_name}[/]:", highlight=False)
    console.print(yaml.safe_dump(decision.workflow, sort_keys=False).rstrip(), highlight=False, markup=False)
