"""CronWorkflows: each model's scheduled retraining and drift check, through ``workflowTemplateRef``.

One WorkflowTemplate per pipeline; a CronWorkflow only says *when* and with which arguments (Argo v4:
``spec.schedules`` is a list; ``schedule`` is gone). ``concurrencyPolicy: Forbid`` skips a tick while the
previous run is still going; ``startingDeadlineSeconds`` drops a tick the controller missed by more than
that (e.g. during an upgrade) instead of running it late.

Per model: ``retrain-<model>`` on its ``retrain_schedule`` (none when empty) runs the model's retrain
template, and ``monitor-<model>`` on its ``monitor.schedule`` runs the shared monitor template for it.
Argo names each run ``<cron name>-<unix time>`` and refuses CronWorkflow names over 52 characters, so a
long model name is cut and given a short hash (:func:`cron_name`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from driftloop.contracts import MONITOR_TEMPLATE, retrain_template

if TYPE_CHECKING:
    from hera.workflows import CronWorkflow

    from driftloop.config import Settings

__all__ = ["CRON_NAME_LIMIT", "TIMEZONE", "build_crons", "cron_name"]

TIMEZONE = "UTC"
CRON_NAME_LIMIT = 52


def cron_name(kind: str, model: str) -> str:
    """``<kind>-<model>``, at most 52 characters (a long model name is cut and suffixed with a hash)."""
    name = f"{kind}-{model}"
    if len(name) <= CRON_NAME_LIMIT:
        return name
    digest = hashlib.sha256(model.encode()).hexdigest()[:6]
    return f"{name[: CRON_NAME_LIMIT - 7].rstrip('-')}-{digest}"


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
        labels={
            "app.kubernetes.io/name": "driftloop",
            "app.kubernetes.io/component": component,
            **({"driftloop.io/model": parameters["model"]} if parameters.get("model") else {}),
        },
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
    """Each model's retrain and monitor CronWorkflows (pure)."""
    crons = []
    for model, spec in settings.models.items():
        if spec.retrain_schedule:
            crons.append(
                _cron(
                    cron_name("retrain", model),
                    retrain_template(model),
                    spec.retrain_schedule,
                    3600,
                    "retrain",
                    f"Scheduled retraining of {model}.",
                    {"model": model, "reason": "schedule"},
                )
            )
        if spec.monitor_schedule:
            crons.append(
                _cron(
                    cron_name("monitor", model),
                    MONITOR_TEMPLATE,
                    spec.monitor_schedule,
                    600,
                    "monitor",
                    f"Drift check of {model}'s champion on its recent inference log.",
                    {"model": model},
                )
            )
    return crons
