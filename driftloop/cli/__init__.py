"""The ``driftloop`` command line.

Every command resolves the configuration once (``settings_from``); a :class:`DriftloopError` becomes one
line ``error: <what went wrong> — <what to change>`` and its exit code (2 for usage/config/input errors,
1 for runtime failures); ``--debug`` (or ``DRIFTLOOP_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import typer

from driftloop import __version__
from driftloop.cli import (
    approval,
    config_cmd,
    demo,
    models,
    monitor,
    registry,
    retrain,
    runs,
    sensor,
    serve,
    stack,
    submit,
    workflow,
)
from driftloop.cli import compile as compile_cmd
from driftloop.cli._common import CliState, err_console, parse_assignments, setup_logging
from driftloop.errors import DriftloopError

__all__ = ["app", "main"]

app = typer.Typer(
    name="driftloop",
    help="Event-driven retraining for ML models on Argo — and the same loop on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", envvar="DRIFTLOOP_CONFIG", help="config file (default ./driftloop.yaml)"
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="override a setting, e.g. --set kafka.bootstrap_servers=host:9092 (repeatable)"
    ),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks and debug logs"),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version"
    ),
) -> None:
    ctx.obj = CliState(config_path=config, overrides=parse_assignments(set_), debug=debug)
    setup_logging(debug)


app.command("up")(stack.up)
app.command("down")(stack.down)
app.command("status")(stack.status)
app.command("demo")(demo.demo)
app.add_typer(config_cmd.app, name="config")
app.add_typer(monitor.app, name="monitor")
app.add_typer(workflow.app, name="workflow")
app.add_typer(runs.app, name="runs")
app.add_typer(sensor.app, name="sensor")
app.add_typer(registry.app, name="registry")
app.command("compile")(compile_cmd.compile)
workflow.app.command("submit")(submit.submit)
app.command("serve")(serve.serve)
app.command("retrain")(retrain.retrain)
app.command("init")(models.init)
app.command("approve")(approval.approve)
app.command("reject")(approval.reject)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("DRIFTLOOP_DEBUG", "") not in ("", "0", "false")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map errors to one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = _debug_requested(args)
    try:
        result = app(args=args, prog_name="driftloop", standalone_mode=False)
    except DriftloopError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # typer's (vendored click) usage errors: exit 2
        code = getattr(exc, "exit_code", 2)
        if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
            exc.show() if hasattr(exc, "show") else err_console.print(f"error: {exc}", markup=False)
            sys.exit(code)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "driftloop"
        message = f"error: {exc.format_message()} — see `{where} --help`"
        err_console.print(message, markup=False, highlight=False, soft_wrap=True)
        sys.exit(code)
    except OSError as exc:  # a full disk, a read-only or missing directory: the user's environment
        if debug:
            traceback.print_exc()
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(
            f"error: cannot use{where}: {exc.strerror or exc} — check that the path (e.g. data_dir, "
            "--set data_dir=...) is writable and the disk is not full",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("interrupted")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
