"""The workflows component's renderers: the WorkflowTemplates and CronWorkflows, and the serving objects.

Both are listed in :data:`driftloop.compiler.RENDERERS`, which renders every component's objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.compiler import GENERATED_DIR, header, to_yaml

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["render_serving", "render_workflows"]


def render_workflows(settings: Settings) -> dict[str, str]:
    """The retrain and monitor WorkflowTemplates and their CronWorkflows."""
    from workflows.cron import build_crons
    from workflows.monitor import build_monitor
    from workflows.retrain import admission_task, build_retrain

    out: dict[str, str] = {}
    objects: list[tuple[Any, str]] = [
        (build_retrain(settings, model, first_task=admission_task), "workflows/retrain.py")
        for model in settings.models
    ]
    objects.append((build_monitor(settings), "workflows/monitor.py"))
    objects += [(c, "workflows/cron.py") for c in build_crons(settings)]
    for obj, source in objects:
        out[f"{GENERATED_DIR}/workflows/{obj.name}.yaml"] = to_yaml(obj, source)
    return out


def render_serving(settings: Settings) -> dict[str, str]:
    """The model server's Deployments, Service and deploy Role, one file per model (+ RBAC)."""
    from workflows.deploy.manifests import render_serving_manifests

    top = header("workflows/deploy/manifests.py")
    files = render_serving_manifests(settings, models=tuple(settings.models))
    return {f"{GENERATED_DIR}/{path}": top + text for path, text in files.items()}
