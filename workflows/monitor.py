"""The ``driftloop-monitor`` WorkflowTemplate: one drift check per model with a champion.

The same check as ``driftloop monitor run`` (:mod:`workflows.steps.monitor`); the hourly CronWorkflow in
:mod:`workflows.cron` refers to this template by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.contracts import MONITOR_TEMPLATE
from workflows.pod import DEFAULT_IMAGE, runner_step

if TYPE_CHECKING:
    from hera.workflows import WorkflowTemplate

    from driftloop.config import Settings

__all__ = ["NAME", "build_monitor"]

NAME = MONITOR_TEMPLATE


def build_monitor(settings: Settings, image: str = DEFAULT_IMAGE) -> WorkflowTemplate:
    """The monitor WorkflowTemplate (pure: a function of its arguments)."""
    from hera.workflows import DAG, Parameter, WorkflowTemplate
    from hera.workflows import models as m

    from workflows import entrypoints as ep

    check = runner_step(
        ep.monitor_check, "drift-check", image=image, retry=True, deadline_s=1800, component="monitor"
    )
    with (
        WorkflowTemplate(
            name=NAME,
            labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": "monitor"},
            annotations={
                "workflows.argoproj.io/title": "driftloop: drift check",
                "workflows.argoproj.io/description": (
                    "Check the recent inference log of a model (or of every model with a champion) against "
                    "its reference profile (drift, multivariate and segment drift) and, with the feedback "
                    "labels, its holdout performance; publish the CloudEvent to Kafka."
                ),
            },
            entrypoint="monitor",
            arguments=[
                Parameter(
                    name="model", value="", description="Model to check; empty = every model with a champion."
                ),
                Parameter(
                    name="current",
                    value="kafka",
                    description="Window to check: kafka (the inference log) or a table URI (s3://...).",
                ),
                Parameter(name="minutes", value="60", description="With current=kafka: the last N minutes."),
            ],
            service_account_name=settings.argo.service_account,
            active_deadline_seconds=3600,
            synchronization=m.Synchronization(mutexes=[m.Mutex(name="driftloop-monitor")]),
            ttl_strategy=m.TTLStrategy(seconds_after_completion=24 * 3600),
            pod_gc=m.PodGC(strategy="OnPodSuccess"),
            workflow_metadata=m.WorkflowMetadata(
                labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": "monitor"},
                annotations={"workflows.argoproj.io/title": "driftloop drift check"},
            ),
        ) as wt,
        DAG(name="monitor"),
    ):
        check(
            name="drift-check",
            arguments={
                "model": "{{workflow.parameters.model}}",
                "current": "{{workflow.parameters.current}}",
                "minutes": "{{workflow.parameters.minutes}}",
                "publish": "true",
            },
        )
    return wt
