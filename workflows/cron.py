"""CronWorkflows: weekly retraining and hourly monitoring, both through ``workflowTemplateRef``.

One WorkflowTemplate per pipeline; a CronWorkflow only says *when* and with which arguments (Argo v4:
``spec.schedules`` is a list; ``schedule`` is gone). ``concurrencyPolicy: Forbid`` skips a tick while the
previous run is still going; ``startingDeadlineSeconds`` drops a tick the controller missed by more than
that (e.g. during an upgrade) instead of running it late.

One weekly retrain per model in ``settings.models``: ``driftloop-retrain-weekly`` retrains the first,
every further model gets ``driftloop-retrain-weekly-<model>`` (so the default, single-model manifests keep
the plain name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflows import monitor, retrain

if TYPE_CHECKING:
    from hera.workflows import CronWorkflow

    from driftloop.config import Settings

__all__ = ["MONITOR_SCHEDULE", "RETRAIN_SCHEDULE", "TIMEZONE", "build_crons"]

RETRAIN_SCHEDULE = "0 3 * * 1"  # Mondays 03:00
MONITOR_SCHEDULE = "5 * * * *"  # hourly, at minute 5
TIMEZONE = "UTC"


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


def build_crons(settings: Settings) -> list[CronWorkflow]:
    """The weekly retrain CronWorkflow(s) and ``driftloop-monitor-hourly`` (pure)."""
    crons = []
    for i, model in enumerate(settings.models):
        name = "driftloop-retrain-weekly" if i == 0 else f"driftloop-retrain-weekly-{model}"
        crons.append(
            _cron(
                name,
                retrain.NAME,
                RETRAIN_SCHEDULE,
                3600,
                "retrain",
                f"Weekly scheduled retraining of {model}.",
                {"model": model, "reason": "schedule"},
            )
        )
    crons.append(
        _cron(
            "driftloop-monitor-hourly",
            monitor.NAME,
            MONITOR_SCHEDULE,
            600,
            "monitor",
            "Hourly drift check of every model with a champion.",
            {},
        )
    )
    return crons
