"""``driftloop config``: show the effective configuration."""

from __future__ import annotations

import json

import typer
import yaml

from driftloop.cli._common import console, settings_from
from driftloop.config import masked_dict

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of YAML"),
) -> None:
    """Print the effective configuration (flags > DRIFTLOOP_* env > file > defaults), secrets masked."""
    from driftloop.cli.models import check_models

    settings = settings_from(ctx)
    check_models(settings)
    data = masked_dict(settings)
    if as_json:
        console.print_json(json.dumps(data))
    else:
        console.print(yaml.safe_dump(data, sort_keys=False).rstrip(), highlight=False, markup=False)
