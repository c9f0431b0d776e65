"""The ``driftloop-retrain`` WorkflowTemplate (Hera): validate → preprocess → train → evaluate → canary.

DAG::

    [first task, e.g. admission] → validate-data → preprocess → train → evaluate
        → (verdict == passed) deploy-canary → analyze-canary → promote | rollback
    onExit: exit-handler → publish-outcome (io.driftloop.retrain.succeeded | failed | rejected)

A gate failure skips the canary: the run Succeeds and its outcome is ``rejected``. Where things live:

* data snapshots: ``s3://<bucket>/snapshots/<model>/<workflow>/{train,holdout}.parquet``, passed as
  parameters (the registry's lineage points at them; see :mod:`workflows.steps.data`);
* model, metrics, reference profile, validation report: Argo output artifacts in the default artifact
  repository (keys ``{{workflow.name}}/{{pod.name}}/<file>``, un-archived), so the run can be inspected
  in the Argo UI; the registered model and profile are copied into the registry by ``evaluate``.

:func:`build_retrain` is a pure function of its arguments: :mod:`workflows.compile` renders it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from driftloop.contracts import REASONS, RETRAIN_TEMPLATE
from workflows.pod import DEFAULT_IMAGE, LARGE, runner_step

if TYPE_CHECKING:
    from hera.workflows import WorkflowTemplate

    from driftloop.config import Settings

__all__ = ["DEADLINE_S", "NAME", "PARAMETERS", "REASONS", "admission_task", "build_retrain"]

NAME = RETRAIN_TEMPLATE
DEADLINE_S = 4 * 3600
TTL_S = 7 * 24 * 3600

#: (name, default or None when required, description, enum or None) — the Argo UI's submit form.
PARAMETERS: list[tuple[str, str | None, str, list[str] | None]] = [
    ("model", None, "Model to retrain (RFC 1123 name, as in the registry).", None),
    (
        "reason",
        "manual",
        "Why this run started: drift (a drift event), schedule (cron) or manual.",
        list(REASONS),
    ),
    ("event_id", "", "Id of the CloudEvent that triggered the run (empty when not event-driven).", None),
    ("report_uri", "", "Drift report of the triggering check (s3:// URI), recorded in the lineage.", None),
    (
        "dataset_uri",
        "",
        "Training table (s3:// Parquet or CSV); empty = s3://<bucket>/datasets/<model>/current.parquet.",
        None,
    ),
    ("gate_margin", "0.02", "How much worse than the champion (primary metric) a challenger may be.", None),
    (
        "primary_metric",
        "roc_auc",
        "Metric the quality gate compares on the holdout.",
        ["roc_auc", "accuracy", "f1", "balanced_accuracy"],
    ),
    ("min_score", "0.6", "With no champion yet: the primary metric the first model must reach.", None),
    ("target", "default", "Label column of the training table.", None),
    (
        "algorithm",
        "hgb",
        "Classifier: hgb (HistGradientBoosting) or logreg (LogisticRegression).",
        ["hgb", "logreg"],
    ),
    ("canary_duration_s", "300", "How long the canary is watched on live traffic before the verdict.", None),
    ("hyperparameters", "{}", 'Classifier hyperparameters as JSON, e.g. {"max_iter": 200}.', None),
]


def _p(name: str) -> str:
    return f"{{{{workflow.parameters.{name}}}}}"


def _workflow_parameters() -> list[Any]:
    from hera.workflows import Parameter

    out = []
    for name, default, description, enum in PARAMETERS:
        # Hera renders value=None as the string 'null': leave value out for a required parameter.
        kwargs = {"value": default} if default is not None else {}
        out.append(Parameter(name=name, description=description, enum=enum, **kwargs))
    return out


def admission_task(image: str = DEFAULT_IMAGE) -> Any:
    """The ``admit`` task (:func:`sensors.admission.admit`): the sensor's policies enforced inside the
    workflow, so they hold on a cluster where Argo Events' Sensor cannot run them. Call inside a DAG."""
    from workflows import entrypoints as ep

    step = runner_step(ep.admit, "admit", image=image, deadline_s=600)
    return step(
        name="admit",
        arguments={
            "model": _p("model"),
            "event_id": _p("event_id"),
            "reason": _p("reason"),
            "workflow_name": "{{workflow.name}}",
            "workflow_uid": "{{workflow.uid}}",
        },
    )


def build_retrain(
    settings: Settings,
    image: str = DEFAULT_IMAGE,
    first_task: Callable[[], Any] | None = None,
    extra_templates: Callable[[], None] | None = None,
) -> WorkflowTemplate:
    """The retrain WorkflowTemplate.

    Args:
        settings: resolved settings (the service account comes from ``argo.service_account``).
        image: the driftloop image every step runs on.
        first_task: called inside the DAG before ``validate-data``; returns the task that must succeed
            first (the sensors' admission step plugs in here). None = start with validate-data.
        extra_templates: called inside the WorkflowTemplate context to add templates ``first_task`` uses.
    """
    from hera.workflows import DAG, Parameter, WorkflowTemplate
    from hera.workflows import models as m

    from workflows import entrypoints as ep

    steps = {
        "validate": runner_step(ep.validate_data, "validate-data", image=image, retry=True),
        "preprocess": runner_step(ep.preprocess, "preprocess", image=image, retry=True),
        "train": runner_step(ep.train, "train", image=image, size=LARGE, deadline_s=2 * 3600),
        "evaluate": runner_step(ep.evaluate, "evaluate", image=image, size=LARGE, retry=True),
        "deploy": runner_step(ep.deploy_canary, "deploy-canary", image=image, retry=True),
        "analyze": runner_step(ep.analyze_canary, "analyze-canary", image=image, retry=True, deadline_s=3600),
        "promote": runner_step(ep.promote, "promote", image=image, retry=True),
        "rollback": runner_step(ep.rollback, "rollback", image=image, retry=True),
        "publish": runner_step(
            ep.publish_outcome, "publish-outcome", image=image, retry=True, deadline_s=600
        ),
    }
    model, wf_name = _p("model"), "{{workflow.name}}"
    with WorkflowTemplate(
        name=NAME,
        labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": "retrain"},
        annotations={
            "workflows.argoproj.io/title": "driftloop: retrain a model",
            "workflows.argoproj.io/description": (
                "Retrain a model on fresh data, gate it against the champion on the same holdout, "
                "register it with lineage, then canary → promote or roll back. The outcome is published "
                "to Kafka as a CloudEvent."
            ),
        },
        entrypoint="retrain",
        on_exit="exit-handler",
        arguments=_workflow_parameters(),
        service_account_name=settings.argo.service_account,
        active_deadline_seconds=DEADLINE_S,
        synchronization=m.Synchronization(mutexes=[m.Mutex(name=f"driftloop-retrain-{model}")]),
        ttl_strategy=m.TTLStrategy(seconds_after_completion=TTL_S),
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        workflow_metadata=m.WorkflowMetadata(
            labels={"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/component": "retrain"},
            # labelsFrom: set from the run's parameters on its first reconciliation (Argo >= 3.3,
            # argoproj/argo-workflows#7711), so `argo list -l driftloop.io/model=credit` finds runs.
            labels_from={
                "driftloop.io/model": m.LabelValueFrom(expression="workflow.parameters.model"),
                "driftloop.io/reason": m.LabelValueFrom(expression="workflow.parameters.reason"),
            },
            annotations={
                "workflows.argoproj.io/title": "driftloop retrain",
                "workflows.argoproj.io/description": "Retrain, gate, register and canary one model.",
            },
        ),
    ) as wt:
        if extra_templates is not None:
            extra_templates()
        with DAG(name="retrain"):
            first = first_task() if first_task is not None else None
            validate = steps["validate"](
                name="validate-data",
                arguments={"model": model, "dataset_uri": _p("dataset_uri"), "target": _p("target")},
            )
            pre = steps["preprocess"](
                name="preprocess",
                arguments={
                    "model": model,
                    "dataset_uri": validate.get_parameter("dataset_uri").value,
                    "workflow_name": wf_name,
                    "target": _p("target"),
                },
            )
            trained = steps["train"](
                name="train",
                arguments={
                    "model": model,
                    "train_uri": pre.get_parameter("train_uri").value,
                    "target": _p("target"),
                    "algorithm": _p("algorithm"),
                    "hyperparameters": _p("hyperparameters"),
                },
            )
            evaluated = steps["evaluate"](
                name="evaluate",
                arguments=[
                    trained.get_artifact("model").with_name("challenger"),
                    *[
                        Parameter(name=k, value=v)
                        for k, v in {
                            "model": model,
                            "train_uri": pre.get_parameter("train_uri").value,
                            "holdout_uri": pre.get_parameter("holdout_uri").value,
                            "target": _p("target"),
                            "primary_metric": _p("primary_metric"),
                            "gate_margin": _p("gate_margin"),
                            "min_score": _p("min_score"),
                            "reason": _p("reason"),
                            "event_id": _p("event_id"),
                            "report_uri": _p("report_uri"),
                            "dataset_uri": validate.get_parameter("dataset_uri").value,
                            "workflow_name": wf_name,
                            "workflow_uid": "{{workflow.uid}}",
                        }.items()
                    ],
                ],
            )
            version = evaluated.get_parameter("version").value
            canary_args = {"model": model, "version": version, "workflow_name": wf_name}
            deploy = steps["deploy"](
                name="deploy-canary",
                arguments=canary_args,
                when=f"{evaluated.get_parameter('verdict').value} == passed",
            )
            analyze = steps["analyze"](
                name="analyze-canary", arguments={**canary_args, "duration_s": _p("canary_duration_s")}
            )
            verdict = analyze.get_parameter("verdict").value
            promote = steps["promote"](name="promote", arguments=canary_args, when=f"{verdict} == promote")
            rollback = steps["rollback"](
                name="rollback", arguments=canary_args, when=f"{verdict} == rollback"
            )
            validate >> pre >> trained >> evaluated >> deploy
            # A bare `depends: X` means X.Succeeded || X.Skipped || X.Daemoned: after a rejected gate the
            # skipped deploy-canary would still start analyze-canary. Depend on success explicitly.
            # https://argo-workflows.readthedocs.io/en/latest/enhanced-depends-logic/
            deploy.on_success(analyze)
            analyze.on_success(promote)
            analyze.on_success(rollback)
            if first is not None:
                first.on_success(validate)
        with DAG(name="exit-handler"):
            steps["publish"](
                name="publish-outcome",
                arguments={
                    "model": model,
                    "status": "{{workflow.status}}",
                    # JSON list of the failed nodes; the outcome event names the failed step(s)
                    "failures": "{{workflow.failures}}",
                    "reason": _p("reason"),
                    "event_id": _p("event_id"),
                    "workflow_name": wf_name,
                    "workflow_uid": "{{workflow.uid}}",
                },
            )
    return wt
