"""The ``driftloop-monitor`` WorkflowTemplate: a fan-out of drift checks, one branch per model.

``models`` lists the model given (or every model with a champion); ``check`` runs once per model
(``withParam``, ``failFast: false``: one model's failure does not stop the others). In a model's branch
``plan`` decides: an inference-log or CSV window is checked in one pod (``drift-check``, the same check
as ``driftloop monitor run``, :mod:`workflows.steps.monitor`); a Parquet window is cut into shards, each
summarised in its own pod (``summarize``, ``withParam`` over the shard numbers) and merged (``merge``:
the verdict and the same CloudEvent), the summaries passing through the object store
(:mod:`workflows.steps.monitor_shards`). The CronWorkflows in :mod:`workflows.cron` refer to this template
by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.contracts import MONITOR_TEMPLATE
from workflows.pod import DEFAULT_IMAGE, runner_step

if TYPE_CHECKING:
    from hera.workflows import WorkflowTemplate

    from driftloop.config import Settings

__all__ = ["MODELS_AT_ONCE", "NAME", "build_monitor"]

NAME = MONITOR_TEMPLATE
#: How many models' checks run at once (each a branch of the fan-out; its shards run side by side).
MODELS_AT_ONCE = 8


def build_monitor(settings: Settings, image: str = DEFAULT_IMAGE) -> WorkflowTemplate:
    """The monitor WorkflowTemplate (pure: a function of its arguments)."""
    from hera.workflows import DAG, Parameter, WorkflowTemplate
    from hera.workflows import models as m

    from monitors.shards import SHARD_ROWS
    from workflows import entrypoints as ep

    def step(fn: Any, name: str, deadline_s: int = 1800) -> Any:
        return runner_step(fn, name, image=image, retry=True, deadline_s=deadline_s, component="monitor")

    models = step(ep.monitor_models, "list-models", deadline_s=300)
    plan = step(ep.monitor_plan, "plan-shards", deadline_s=300)
    summarize = step(ep.monitor_summarize, "summarize-shard")
    merge = step(ep.monitor_merge, "merge-shards")
    check = step(ep.monitor_check, "drift-check")
    model = "{{inputs.parameters.model}}"
    mode = "{{tasks.plan.outputs.parameters.mode}}"
    with WorkflowTemplate(
        name=NAME,
        labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": "monitor"},
        annotations={
            "workflows.argoproj.io/title": "driftloop: drift check",
            "workflows.argoproj.io/description": (
                "Check the recent inference log of a model (or of every model with a champion, one "
                "branch each) against its reference profile (drift, multivariate and segment drift) "
                "and, with the feedback labels, its holdout performance; a Parquet window is checked "
                "in shards and merged; publish the CloudEvent to Kafka."
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
            Parameter(
                name="shards",
                value="",
                description=f"Shards of a Parquet window; empty = one per {SHARD_ROWS} rows.",
            ),
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
    ) as wt:
        with DAG(name="check-model", inputs=[Parameter(name="model")], fail_fast=False) as check_model:
            planned = plan(
                name="plan",
                arguments={
                    "model": model,
                    "current": "{{workflow.parameters.current}}",
                    "shards": "{{workflow.parameters.shards}}",
                    "run": "{{workflow.name}}",
                },
            )
            single = check(
                name="drift-check",
                arguments={
                    "model": model,
                    "current": "{{workflow.parameters.current}}",
                    "minutes": "{{workflow.parameters.minutes}}",
                    "publish": "true",
                },
                when=f"{mode} == single",
            )
            shards = summarize(
                name="summarize",
                arguments={"model": model, "shard": "{{item}}", "run": "{{workflow.name}}"},
                with_param="{{tasks.plan.outputs.parameters.shards}}",
                when=f"{mode} == sharded",
            )
            merged = merge(
                name="merge",
                arguments={"model": model, "run": "{{workflow.name}}", "publish": "true"},
                when=f"{mode} == sharded",
            )
            planned >> [single, shards]
            shards >> merged
        # one branch per model: a model whose check fails does not stop the others
        with DAG(name="monitor", fail_fast=False, parallelism=MODELS_AT_ONCE):
            listed = models(name="models", arguments={"model": "{{workflow.parameters.model}}"})
            each = check_model(
                name="check",
                arguments={"model": "{{item}}"},
                with_param="{{tasks.models.outputs.parameters.models}}",
            )
            listed >> each
    return wt
