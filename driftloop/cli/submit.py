"""``driftloop workflow submit``: submit a WorkflowTemplate (by name) or a YAML file to an Argo Server."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from driftloop.cli._common import console, err_console, parse_assignments, settings_from

__all__ = ["submit"]


def submit(
    ctx: typer.Context,
    name_or_file: Annotated[
        str, typer.Argument(help="WorkflowTemplate name (e.g. driftloop-retrain) or a YAML file")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="workflow parameter key=value")
    ] = None,
    argo_server: Annotated[
        str | None, typer.Option("--argo-server", help="Argo Server URL (default argo.server_url)")
    ] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="default argo.namespace")] = None,
    token: Annotated[str | None, typer.Option("--token", help="bearer token (default argo.token)")] = None,
    wait_: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until the workflow finishes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the submission as JSON on stdout")] = False,
) -> None:
    """Submit a run to Argo; with --wait, exit 0 only when it Succeeded."""
    from driftloop.submit import build_workflow, wait
    from driftloop.submit import submit as do_submit

    settings = settings_from(ctx)
    params = parse_assignments(list(param or []), "-p")
    manifest = build_workflow(name_or_file, params)
    sub = do_submit(settings, manifest, server=argo_server, namespace=namespace, token=token)
    verb = "submitted" if sub.created else "already exists:"
    err_console.print(f"{verb} {sub.namespace}/{sub.name}", highlight=False)
    if wait_:
        sub.phase = wait(settings, sub, server=argo_server, token=token)
        err_console.print(f"{sub.name} {sub.phase}", highlight=False)
    if as_json:
        typer.echo(json.dumps(sub.to_dict()))
    elif not wait_:
        console.print(sub.name, highlight=False)
    if wait_ and sub.phase != "Succeeded":
        raise typer.Exit(1)
