"""``driftloop retrain MODEL`` and ``driftloop init NAME``: bring your own model.

``retrain`` starts a manual run of the model's retrain WorkflowTemplate — rendered from the settings, so
a model added to ``driftloop.yaml`` runs without a compile step — in the local executor, or on Argo when
``argo.server_url`` is set, waits, and prints what ``workflow run --json`` prints.
``init`` scaffolds a model: a trainer module with a working example, a sample data set, and its entry in
``driftloop.yaml``. :func:`check_models` is the early check of every model's code that ``config show``,
``compile`` and ``up`` run: a trainer or preprocess function that cannot be imported is a one-line error
there, not a failed run later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli._common import console, err_console, parse_assignments, settings_from
from driftloop.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["check_models", "init", "retrain"]


def check_models(settings: Settings) -> None:
    """Import every model's trainer and preprocess function and validate its monitor section."""
    from pydantic import ValidationError

    from driftloop.usercode import load_callable
    from monitors import MonitorDefinition

    for name, spec in settings.models.items():
        if spec.code_dir is not None and not Path(spec.code_dir).is_dir():
            raise ConfigError(
                f"models.{name}.code_dir: {spec.code_dir} is not a directory",
                "point code_dir at the directory that holds the model's module",
            )
        load_callable(name, "trainer", spec.trainer, spec)
        if spec.preprocess:
            load_callable(name, "preprocess", spec.preprocess, spec)
        try:
            MonitorDefinition(model=name, target=spec.target, **spec.monitor_definition())
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"models.{name}.monitor.{key}: {first['msg']}", "see monitors.MonitorDefinition's fields"
            ) from None


def retrain(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model to retrain (a key of `models:`)")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="run parameter key=value, e.g. -p params='{\"alpha\": 1}'"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print {phase, nodes} as JSON on stdout")] = False,
) -> None:
    """Retrain MODEL now (reason=manual) and wait; exit 0 when the run Succeeded."""
    from driftloop.contracts import retrain_template

    settings = settings_from(ctx)
    settings.model(model)  # a ConfigError names the configured models
    params = {"model": model, "reason": "manual", **parse_assignments(list(param or []), "-p")}
    if params["model"] != model:
        raise UsageError(
            "-p model= cannot differ from MODEL",
            f"drop -p model or run `driftloop retrain {params['model']}`",
        )
    if settings.argo.server_url:
        from driftloop.submit import build_workflow, submit, wait

        sub = submit(settings, build_workflow(retrain_template(model), params))
        err_console.print(f"submitted {sub.namespace}/{sub.name}", highlight=False)
        sub.phase = wait(settings, sub)
        if as_json:
            console.print_json(json.dumps(sub.to_dict()))
        err_console.print(f"{sub.name} {sub.phase}", highlight=False)
        raise typer.Exit(0 if sub.phase == "Succeeded" else 1)
    _run_locally(settings, model, params, as_json)


def _run_locally(settings: Settings, model: str, params: dict[str, str], as_json: bool) -> None:
    from driftloop.cli.workflow import print_node
    from driftloop.local.executor import run_workflow
    from workflows.retrain import admission_task, build_retrain

    check_models(settings)
    template = build_retrain(settings, model, first_task=admission_task).to_dict()
    err_console.print(f"retraining {model} in the local executor ({template['metadata']['name']})")
    result = run_workflow(
        template, params, settings, templates_dir=Path(settings.manifests_dir), on_event=print_node
    )
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    err_console.print(
        f"{result.name} {result.phase}" + (f": {result.message}" if result.message else ""),
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(0 if result.phase == "Succeeded" else 1)


def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the model's name (lowercase letters, digits, '-')")],
    task: Annotated[str, typer.Option("--task", help="classification or regression")] = "classification",
    directory: Annotated[Path, typer.Option("--dir", help="where to write the files")] = Path("."),
    rows: Annotated[int, typer.Option(help="rows of the sample data set", min=200)] = 2000,
) -> None:
    """Scaffold a model: a trainer module, a sample data set and its entry in driftloop.yaml."""
    from driftloop.cli.scaffold import scaffold

    for line in scaffold(name, task, directory, rows):
        console.print(line, highlight=False)
