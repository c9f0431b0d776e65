"""``driftloop compile [--check]``: render every workflow (and sensor) to YAML under ``manifests/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftloop.cli._common import console, settings_from
from driftloop.errors import WorkflowError

__all__ = ["compile"]


def _validate(out_dir: Path) -> None:
    """Strict validation of the generated objects (unknown fields and wrong types are errors)."""
    from driftloop.compiler import GENERATED_DIR
    from driftloop.validation import validate_paths

    report = validate_paths([out_dir / GENERATED_DIR])
    if not report.ok:
        raise WorkflowError(
            f"{len(report.errors)} schema error(s) in {out_dir / GENERATED_DIR}: {report.errors[0]}",
            "fix the Python definitions and recompile",
        )
    console.print(f"strict validation: {report.summary()}", highlight=False)


def compile(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="compare the committed YAML with a fresh rendering (exit 1 if stale); validate it strictly",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="manifests directory (default: settings manifests_dir)"),
    ] = None,
) -> None:
    """Render the Hera workflow definitions to YAML (one object per file)."""
    from driftloop.cli.models import check_models
    from driftloop.compiler import stale, write

    settings = settings_from(ctx)
    check_models(settings)
    out_dir = output or Path(settings.manifests_dir)
    if check:
        bad = stale(settings, out_dir)
        if bad:
            raise WorkflowError(
                f"{len(bad)} compiled file(s) under {out_dir} are stale or missing: {', '.join(bad)}",
                "run `driftloop compile` and commit the result",
            )
        console.print(f"compiled YAML under {out_dir} is up to date")
        _validate(out_dir)
        return
    changed = write(settings, out_dir)
    for rel in changed:
        console.print(f"wrote {out_dir / rel}", highlight=False)
    console.print(f"{len(changed)} file(s) changed under {out_dir}")
