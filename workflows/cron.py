"""CronWorkflows: weekly retraining and hourly monitoring, both through ``workflowTemplateRef``.

One WorkflowTemplate per pipeline; a CronWorkflow only says *when* and with which arguments (Argo v4:
``spec.schedules`` is a list; ``schedule`` is gone). ``concurrencyPolicy: Forbid`` skips a tick while the
previous run is still going; ``startingDeadlineSeconds`` drops a tick the controller missed by more than
that (e.g. during an upgrade) instead of running it late.

The weekly retrain names one model (``RETRAIN_MODEL``); a deployment with other models patches
``spec.workflowSpec.arguments`` in its kustomize overlay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflows import monitor, retrain

if TYPE_CHECKING:
    from hera.workflows import CronWorkflow

    from driftloop.config import Settings

__all__ = ["MONITOR_SCHEDULE", "RETRAIN_MODEL", "RETRAIN_SCHEDULE", "TIMEZONE", "build_crons"]

RETRAIN_SCHEDULE = "0 3 * * 1"  # Mondays 03:00
MONITOR_SCHEDULE = "5 * * * *"  # hourly, at minute 5
TIMEZONE = "UTC"
RETRAIN_MODEL = "credit"


def _cron(
    name: str,
    template: str,
    schedule: str,
    deadline_s: int,
    component: str,
    description: str,
    parameters: dict[str, str],
) -> CronWorkflow:
    from hera.workflows import CronWorkflow, Parameter
    from hera.workflows import models as m

    return CronWorkflow(
        name=name,
        labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": component},
        annotations={"workflows.argoproj.io/description": description},
        schedules=[schedule],
        timezone=TIMEZONE,
        concurrency_policy="Forbid",
        starting_deadline_seconds=deadline_s,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=5,
        workflow_template_ref=m.WorkflowTemplateRef(name=template),
        arguments=[Parameter(name=k, value=v) for k, v in parameters.items()],
    )


def build_crons(settings: Settings, retrain_model: str = RETRAIN_MODEL) -> list[CronWorkflow]:
    """``driftloop-retrain-weekly`` and ``driftloop-monitor-hourly`` (pure)."""
    del settings  # the schedules are not settings (yet); kept for the renderer signature
    return [
        _cron(
            "driftloop-retrain-weekly",
            retrain.NAME,
            RETRAIN_SCHEDULE,
            3600,
            "retrain",
            f"Weekly scheduled retraining of {retrain_model}.",
            {"model": retrain_model, "reason": "schedule"},
        ),
        _cron(
            "driftloop-monitor-hourly",
            monitor.NAME,
            MONITOR_SCHEDULE,
            600,
            "monitor",
            "Hourly drift check of every model with a champion.",
            {},
        ),
    ]
