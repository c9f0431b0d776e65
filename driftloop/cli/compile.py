"""``driftloop compile [--check]``: render every workflow (and sensor) to YAML under ``manifests/``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli._common import console, err_console, settings_from
from driftloop.errors import WorkflowError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["compile", "image_warnings"]


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


def image_warnings(settings: Settings) -> list[str]:
    """Models whose code is the user's (not a built-in example) but that name no ``image:``: on a cluster
    their preprocess/train/evaluate steps would run driftloop's stock image, which lacks their module."""
    from driftloop.modelspec import EXAMPLES_DIR

    out = []
    for name, spec in settings.models.items():
        code = Path(spec.code_dir).resolve() if spec.code_dir else None
        if spec.image or (code is not None and code.is_relative_to(EXAMPLES_DIR)):
            continue
        module = spec.trainer.partition(":")[0]
        out.append(
            f"model {name} has no `image:`, so on a cluster its trainer {module!r} is looked for in "
            "driftloop's own image, which lacks it — build an image with your code (`driftloop init` wrote "
            f"a Dockerfile) and set models.{name}.image"
        )
    return out


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
    from driftloop.kustomize import missing, scaffold

    settings = settings_from(ctx)
    check_models(settings)
    for warning in image_warnings(settings):
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    out_dir = output or Path(settings.manifests_dir)
    if check:
        bad = stale(settings, out_dir) + missing(out_dir)
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
    added = scaffold(out_dir)
    for rel in added:
        console.print(f"wrote {out_dir / rel} (yours to edit: compile never overwrites it)", highlight=False)
    console.print(f"{len(changed) + len(added)} file(s) changed under {out_dir}")
    if added:
        console.print(
            f"a cluster gets it with `kubectl apply -k {out_dir}/overlays/local-cluster` (or"
            " overlays/production; set your Kafka and S3 addresses in the overlay first)",
            highlight=False,
            soft_wrap=True,
        )
