"""The retrain WorkflowTemplate of one model (Hera): validate → preprocess → train → evaluate → register →
canary.

One template per model, ``driftloop-retrain-<model>`` (:func:`driftloop.contracts.retrain_template`):
it carries the model's spec — task, target, trainer, metrics, image, resources — so the Argo UI shows
each model's pipeline with its own defaults, the steps that run the user's code get the user's image and
resources, and the CronWorkflows and the Sensor's trigger reference it by name.

DAG::

    [first task, e.g. admission] → validate-data → preprocess → train → evaluate → register
        → (verdict == passed) deploy-canary → analyze-canary
        → [stepped rollout: canary-step-1 → … → canary-step-N, each after a promote verdict]
        → [approval: request-approval → wait-approval (suspend) → check-approval]
        → promote | rollback (rollback-step-<i> after step i, rollback-rejected after the approval)
    onExit: exit-handler → publish-outcome (io.driftloop.retrain.succeeded | failed | rejected)

A gate failure skips the canary: the run Succeeds and its outcome is ``rejected``.

**Who holds the signing key.** train and evaluate run the user's image (the user's code, and unpickling a
model runs its classes) and get only the verify key: evaluate writes its scores and the fitted estimator
as unsigned output artifacts. register runs driftloop's image with the signing key, unpickles nothing,
recomputes the gate from the scores and registers the challenger it got from train (sha256-checked).

**Stepped rollouts** (``deploy.steps``) are a generated chain of Argo tasks, one per traffic step, rather
than one analyze step looping inside its pod: each step shows in the Argo UI as its own node with its
own log, verdict and duration; a step's retry re-runs only that step; and the DAG needs no loop
construct. Each step runs only after the previous one said ``promote`` (``when``), and has its own
rollback task (a ``when`` may only read the outputs of a task that ran: Argo cannot resolve the outputs
of a skipped one), so exactly one of the promote/rollback tasks runs.

**Approval** (``approval: required``): see :mod:`workflows.steps.approval` — the decision is a registry
record read after an Argo ``suspend`` with ``duration: approval_timeout_s``; no decision by then is a
rejection. The run's deadline grows by the approval timeout.

Where things live:

* data snapshots: ``s3://<bucket>/snapshots/<model>/<workflow>/{train,holdout}.parquet``, passed as
  parameters (the registry's lineage points at them; see :mod:`workflows.steps.data`);
* model, metrics, reference profile, validation report: Argo output artifacts in the default artifact
  repository (keys ``{{workflow.name}}/{{pod.name}}/<file>``, un-archived), so the run can be inspected
  in the Argo UI; the registered model and profile are copied into the registry by ``register``.

The run's parameters (:func:`parameters`) are declared once, here, with their defaults taken from the
model's spec; every step argument is passed explicitly, so no default is written twice.
:func:`build_retrain` is a pure function of its arguments: :mod:`workflows.compile` renders it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftloop.contracts import REASONS, RETRAIN_DEADLINE_S, retrain_template, run_deadline_s
from driftloop.modelspec import TASK_METRICS
from workflows.deploy.target import rollout
from workflows.pod import DEFAULT_IMAGE, SMALL, PodSize, runner_step

if TYPE_CHECKING:
    from hera.workflows import WorkflowTemplate

    from driftloop.config import Settings
    from driftloop.modelspec import ModelSpec

__all__ = ["DEADLINE_S", "Param", "admission_task", "build_retrain", "parameters"]

DEADLINE_S = RETRAIN_DEADLINE_S
TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Param:
    """One parameter of a retrain run: the Argo UI's submit form, ``-p name=value``, the trigger."""

    name: str
    default: str | None  # None: required
    description: str
    enum: tuple[str, ...] | None = None


def parameters(model: str, spec: ModelSpec, settings: Settings) -> list[Param]:
    """The run's parameters, with ``model``'s spec as defaults."""
    return [
        Param("model", model, "The model this template retrains.", (model,)),
        Param(
            "reason",
            "manual",
            "Why this run started: a monitor signal ("
            + ", ".join(r for r in REASONS if r not in ("schedule", "manual"))
            + "), schedule or manual.",
            REASONS,
        ),
        Param("event_id", "", "Id of the CloudEvent that triggered the run (empty when not event-driven)."),
        Param("report_uri", "", "Drift report of the triggering check (s3:// URI), recorded in the lineage."),
        Param(
            "dataset_uri",
            spec.dataset,
            f"Training table (s3:// Parquet or CSV); empty = s3://{settings.s3.bucket}/datasets/{model}/"
            "current.parquet.",
        ),
        Param("params", "{}", "Trainer params as JSON, merged over the model's params for this run."),
        Param(
            "primary_metric",
            spec.primary_metric,
            "Metric the quality gate compares on the holdout.",
            TASK_METRICS[spec.task],
        ),
        Param(
            "gate_margin",
            str(spec.metrics.gate_margin),
            "How much worse than the champion (in the metric's units) a challenger may be.",
        ),
        Param(
            "canary_duration_s",
            "300",
            "How long the canary is watched on live traffic before the verdict.",
        ),
    ]


def _p(name: str) -> str:
    return f"{{{{workflow.parameters.{name}}}}}"


def _workflow_parameters(params: list[Param]) -> list[Any]:
    from hera.workflows import Parameter

    out = []
    for p in params:
        # Hera renders value=None as the string 'null': leave value out for a required parameter.
        kwargs: dict[str, Any] = {"value": p.default} if p.default is not None else {}
        out.append(
            Parameter(name=p.name, description=p.description, enum=list(p.enum) if p.enum else None, **kwargs)
        )
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


def _rollback_name(step: int) -> str:
    return "rollback" if step == 0 else f"rollback-step-{step}"


def _rollout_chain(steps: dict[str, Any], analyze: Any, canary_args: dict[str, str], n: int) -> Any:
    """After ``analyze-canary`` (step 0): one ``canary-step-<i>`` per later step, each after a promote
    verdict; every step but the last gets its rollback task here (the caller adds the last one, after
    promote). Returns the last analysing task: its verdict decides."""
    last = analyze
    for i in range(n - 1):
        verdict = last.get_parameter("verdict").value
        step = steps["step"](
            name=f"canary-step-{i + 1}",
            arguments={**canary_args, "step": str(i + 1), "duration_s": _p("canary_duration_s")},
            when=f"{verdict} == promote",
        )
        rollback = steps["rollback"](
            name=_rollback_name(i), arguments=canary_args, when=f"{verdict} == rollback"
        )
        last.on_success(step)
        last.on_success(rollback)
        last = step
    return last


def build_retrain(
    settings: Settings,
    model: str,
    image: str = DEFAULT_IMAGE,
    first_task: Callable[[], Any] | None = None,
    extra_templates: Callable[[], None] | None = None,
) -> WorkflowTemplate:
    """The retrain WorkflowTemplate of ``model`` (its spec comes from ``settings.models``).

    Args:
        settings: resolved settings (the service account comes from ``argo.service_account``).
        model: the model; its spec's ``image`` and ``resources`` go on the steps that run its code.
        image: the driftloop image the other steps run on.
        first_task: called inside the DAG before ``validate-data``; returns the task that must succeed
            first (the sensors' admission step plugs in here). None = start with validate-data.
        extra_templates: called inside the WorkflowTemplate context to add templates ``first_task`` uses.
    """
    from hera.workflows import DAG, Parameter, WorkflowTemplate
    from hera.workflows import models as m

    from workflows import entrypoints as ep

    spec = settings.model(model)
    user_image = spec.image or image
    r = spec.resources
    user_size = PodSize(cpu=r.cpu, memory=r.memory, cpu_limit=r.cpu_limit, memory_limit=r.memory_limit)
    steps = {
        "validate": runner_step(ep.validate_data, "validate-data", image=image, retry=True),
        "preprocess": runner_step(ep.preprocess, "preprocess", image=user_image, size=user_size, retry=True),
        "train": runner_step(
            ep.train, "train", image=user_image, size=user_size, deadline_s=spec.train_timeout_s + 60
        ),
        # evaluate runs the user's code (it unpickles the models) without the signing key; register, in
        # driftloop's image, checks its scores and signs (see workflows.steps.register)
        "evaluate": runner_step(ep.evaluate, "evaluate", image=user_image, size=user_size, retry=True),
        "register": runner_step(ep.register, "register", image=image, size=user_size, retry=True, signs=True),
        "deploy": runner_step(
            ep.deploy_canary, "deploy-canary", image=image, size=SMALL, retry=True, signs=True, deploys=True
        ),
        "analyze": runner_step(
            ep.analyze_canary,
            "analyze-canary",
            image=image,
            retry=True,
            deadline_s=3600,
            signs=True,
            deploys=True,
        ),
        "step": runner_step(
            ep.canary_step, "canary-step", image=image, retry=True, deadline_s=3600, signs=True, deploys=True
        ),
        "request": runner_step(ep.request_approval, "request-approval", image=image, retry=True, signs=True),
        "check": runner_step(ep.check_approval, "check-approval", image=image, retry=True, signs=True),
        "promote": runner_step(ep.promote, "promote", image=image, retry=True, signs=True, deploys=True),
        "rollback": runner_step(ep.rollback, "rollback", image=image, retry=True, signs=True, deploys=True),
        "publish": runner_step(
            ep.publish_outcome,
            "publish-outcome",
            image=image,
            retry=True,
            deadline_s=600,
            signs=True,
            deploys=True,
        ),
    }
    wf_name, wf_uid = "{{workflow.name}}", "{{workflow.uid}}"
    labels = {
        "app.kubernetes.io/name": "driftloop",
        "app.kubernetes.io/component": "retrain",
        "driftloop.io/model": model,
    }
    with WorkflowTemplate(
        name=retrain_template(model),
        labels=labels,
        annotations={
            "workflows.argoproj.io/title": f"driftloop: retrain {model}",
            "workflows.argoproj.io/description": (
                f"Retrain {model} ({spec.task}, trainer {spec.trainer}) on fresh data, gate it against the "
                f"champion on {spec.primary_metric}, register it with lineage, then canary → promote or "
                "roll back. The outcome is published to Kafka as a CloudEvent."
            ),
        },
        entrypoint="retrain",
        on_exit="exit-handler",
        arguments=_workflow_parameters(parameters(model, spec, settings)),
        service_account_name=settings.argo.service_account,
        active_deadline_seconds=run_deadline_s(spec.approval_timeout_s if spec.approval == "required" else 0),
        synchronization=m.Synchronization(mutexes=[m.Mutex(name=f"driftloop-retrain-{model}")]),
        ttl_strategy=m.TTLStrategy(seconds_after_completion=TTL_S),
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        workflow_metadata=m.WorkflowMetadata(
            labels=labels,
            # labelsFrom: set from the run's parameters on its first reconciliation (Argo >= 3.3,
            # argoproj/argo-workflows#7711), so `argo list -l driftloop.io/reason=drift` finds runs.
            labels_from={"driftloop.io/reason": m.LabelValueFrom(expression="workflow.parameters.reason")},
            annotations={
                "workflows.argoproj.io/title": f"retrain {model}",
                "workflows.argoproj.io/description": f"Retrain, gate, register and canary {model}.",
            },
        ),
    ) as wt:
        if extra_templates is not None:
            extra_templates()
        wait_approval = None
        if spec.approval == "required":
            from hera.workflows import Suspend

            # resumed by `driftloop approve|reject`, the Argo UI or `argo resume`; expiring = no decision
            wait_approval = Suspend(name="wait-approval", duration=str(spec.approval_timeout_s))
        with DAG(name="retrain"):
            first = first_task() if first_task is not None else None
            validate = steps["validate"](
                name="validate-data",
                arguments={
                    "model": model,
                    "dataset_uri": _p("dataset_uri"),
                    "target": spec.target,
                    "task": spec.task,
                    "min_rows": str(spec.min_rows),
                    "workflow_name": wf_name,
                },
            )
            dataset_uri = validate.get_parameter("dataset_uri").value
            pre = steps["preprocess"](
                name="preprocess",
                arguments={
                    "model": model,
                    "dataset_uri": dataset_uri,
                    "workflow_name": wf_name,
                    "target": spec.target,
                    "task": spec.task,
                    "holdout_share": str(spec.holdout_share),
                    "preprocess": spec.preprocess,
                },
            )
            train_uri = pre.get_parameter("train_uri").value
            trained = steps["train"](
                name="train",
                arguments={
                    "model": model,
                    "train_uri": train_uri,
                    "task": spec.task,
                    "target": spec.target,
                    "trainer": spec.trainer,
                    "preprocess": spec.preprocess,
                    "base_params": json.dumps(spec.params, sort_keys=True),
                    "params": _p("params"),
                    "timeout_s": str(spec.train_timeout_s),
                    "workflow_name": wf_name,
                },
            )
            min_score = "" if spec.min_score is None else str(spec.min_score)
            challenger = trained.get_artifact("model").with_name("challenger")
            model_sha256 = trained.get_parameter("model_sha256").value
            holdout_uri = pre.get_parameter("holdout_uri").value
            gate_args = {
                "model": model,
                "model_sha256": model_sha256,
                "holdout_uri": holdout_uri,
                "task": spec.task,
                "target": spec.target,
                "primary_metric": _p("primary_metric"),
                "gate_margin": _p("gate_margin"),
                "min_score": min_score,
                "workflow_name": wf_name,
            }
            evaluated = steps["evaluate"](
                name="evaluate",
                arguments=[challenger, *[Parameter(name=k, value=v) for k, v in gate_args.items()]],
            )
            registered = steps["register"](
                name="register",
                arguments=[
                    challenger,
                    evaluated.get_artifact("metrics").with_name("scores"),
                    evaluated.get_artifact("estimator").with_name("estimator"),
                    *[
                        Parameter(name=k, value=v)
                        for k, v in {
                            **gate_args,
                            "train_uri": train_uri,
                            "monitor": json.dumps(spec.monitor_definition(), sort_keys=True),
                            "reason": _p("reason"),
                            "event_id": _p("event_id"),
                            "report_uri": _p("report_uri"),
                            "dataset_uri": dataset_uri,
                            "workflow_uid": wf_uid,
                        }.items()
                    ],
                ],
            )
            version = registered.get_parameter("version").value
            canary_args = {"model": model, "version": version, "workflow_name": wf_name}
            deploy = steps["deploy"](
                name="deploy-canary",
                arguments=canary_args,
                when=f"{registered.get_parameter('verdict').value} == passed",
            )
            analyze = steps["analyze"](
                name="analyze-canary", arguments={**canary_args, "duration_s": _p("canary_duration_s")}
            )
            validate >> pre >> trained >> evaluated >> registered >> deploy
            # A bare `depends: X` means X.Succeeded || X.Skipped || X.Daemoned: after a rejected gate the
            # skipped deploy-canary would still start analyze-canary. Depend on success explicitly.
            # https://argo-workflows.readthedocs.io/en/latest/enhanced-depends-logic/
            deploy.on_success(analyze)
            n_steps = len(rollout(settings, model).steps)
            last = _rollout_chain(steps, analyze, canary_args, n_steps)
            verdict = last.get_parameter("verdict").value
            analysed = last
            if wait_approval is not None:
                request = steps["request"](
                    name="request-approval",
                    arguments={**canary_args, "timeout_s": str(spec.approval_timeout_s)},
                    when=f"{verdict} == promote",
                )
                waiting: Any = wait_approval(name="wait-approval")
                check = steps["check"](name="check-approval", arguments=canary_args)
                last.on_success(request)
                request.on_success(waiting)
                waiting.on_success(check)
                approved = check.get_parameter("verdict").value
                rejected = steps["rollback"](
                    name="rollback-rejected", arguments=canary_args, when=f"{approved} == rollback"
                )
                check.on_success(rejected)
                last, verdict = check, approved
            promote = steps["promote"](name="promote", arguments=canary_args, when=f"{verdict} == promote")
            last.on_success(promote)
            analysed_verdict = analysed.get_parameter("verdict").value
            rollback = steps["rollback"](
                name=_rollback_name(n_steps - 1),
                arguments=canary_args,
                when=f"{analysed_verdict} == rollback",
            )
            analysed.on_success(rollback)
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
                    "workflow_uid": wf_uid,
                },
            )
    return wt
