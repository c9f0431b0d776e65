"""``driftloop init NAME``: bring your own model (``driftloop retrain``: :mod:`driftloop.cli.retrain`).

``init`` scaffolds a model: a trainer module with a working example, a sample data set, and its entry in
``driftloop.yaml``. :func:`check_models` is the early check of every model's code that ``config show``,
``compile`` and ``up`` run: a trainer or preprocess function that cannot be imported is a one-line error
there, not a failed run later.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli._common import console
from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["check_models", "init"]


def check_models(settings: Settings) -> None:
    """Import every model's trainer and preprocess function (the spec itself, its ``monitor:`` and
    ``canary:`` sections included, was validated when the configuration loaded)."""
    from driftloop.usercode import load_callable

    for name, spec in settings.models.items():
        if spec.code_dir is not None and not Path(spec.code_dir).is_dir():
            raise ConfigError(
                f"models.{name}.code_dir: {spec.code_dir} is not a directory",
                "point code_dir at the directory that holds the model's module",
            )
        load_callable(name, "trainer", spec.trainer, spec)
        if spec.preprocess:
            load_callable(name, "preprocess", spec.preprocess, spec)


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
