"""The functions the Hera runner calls in each pod (``python -m hera.workflows.runner -e
workflows.entrypoints:<name>``).

Each one only adapts a plain step function of :mod:`workflows.steps` to Argo: inputs arrive as template
input parameters named after the arguments (the retrain template passes every one of them, with the
values of the model's spec — :mod:`workflows.retrain` — so no default is written twice), results leave as
output parameters (the ``Output`` classes) and as files at output-artifact paths. Settings are resolved
once per step process (:func:`workflows.steps.context.step_settings`) and passed down. A
:class:`~driftloop.errors.DriftloopError` ends the pod with one line on stderr and exit code 1, as the CLI
does, and its line is kept in the run record for the outcome event.
"""

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from hera.workflows import Artifact, NoneArchiveStrategy, Parameter
from hera.workflows.io import Output

from driftloop.contracts import NO_RETRY_EXIT
from driftloop.errors import DriftloopError

__all__ = [
    "admit",
    "analyze_canary",
    "canary_step",
    "check_approval",
    "deploy_canary",
    "evaluate",
    "monitor_check",
    "monitor_merge",
    "monitor_models",
    "monitor_plan",
    "monitor_summarize",
    "preprocess",
    "promote",
    "publish_outcome",
    "register",
    "request_approval",
    "rollback",
    "train",
    "validate_data",
]

T = TypeVar("T")


def _call(step: str, fn: Callable[..., T], **kwargs: Any) -> T:
    """Run step ``fn`` with the step process's settings; a DriftloopError becomes one line, exit 1, and
    (for a run of a model) the run record's ``errors.<step>``."""
    from workflows.steps.context import record_error, step_settings

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = None
    try:
        settings = step_settings()
        return fn(settings, **kwargs)
    except DriftloopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        termination_message(str(exc))
        if settings is not None and kwargs.get("model") and "workflow_name" in kwargs:
            record_error(settings, kwargs["model"], kwargs["workflow_name"], step, str(exc))
        # 2 = a configuration, usage or data error: the templates' retryStrategy does not retry it
        raise SystemExit(NO_RETRY_EXIT if exc.exit_code == NO_RETRY_EXIT else 1) from None


def termination_message(message: str) -> None:
    """Leave the step's one-line reason where Kubernetes and Argo show it: the container's termination
    message file (``/dev/termination-log``, which the kubelet creates; Argo's node message becomes
    ``Error (exit code 1): <message>``), or the file the local executor names in
    ``DRIFTLOOP_TERMINATION_LOG``. Never creates ``/dev/termination-log`` on a host that lacks it."""
    import contextlib
    import os

    given = os.environ.get("DRIFTLOOP_TERMINATION_LOG")
    path = Path(given) if given else Path("/dev/termination-log")
    if given or path.exists():
        with contextlib.suppress(OSError):
            path.write_text(message[:4096])  # the kubelet keeps at most 4096 bytes


def _file(name: str, optional: bool = False) -> Artifact:
    """A one-file output artifact, stored un-archived so the Argo UI and `aws s3 cp` show it as is."""
    return Artifact(name=name, output=True, archive=NoneArchiveStrategy(), optional=optional or None)


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        raise DriftloopError(f"{name} {text!r} is not JSON", "pass a JSON object") from None


class ValidateOutput(Output):
    dataset_uri: Annotated[str, Parameter(name="dataset_uri", description="the table that was checked")]
    rows: Annotated[int, Parameter(name="rows")]


def validate_data(
    model: str,
    dataset_uri: str,
    target: str,
    task: str,
    min_rows: int,
    workflow_name: str,
    report: Annotated[Path, _file("validation-report")],
) -> ValidateOutput:
    from workflows.steps import data

    out = _call(
        "validate-data",
        data.validate_data,
        model=model,
        dataset_uri=dataset_uri,
        target=target,
        task=task,
        min_rows=min_rows,
        workflow_name=workflow_name,
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(out, indent=2, sort_keys=True))
    return ValidateOutput(dataset_uri=out["dataset_uri"], rows=out["rows"])


class PreprocessOutput(Output):
    train_uri: Annotated[str, Parameter(name="train_uri", description="train snapshot (Parquet)")]
    holdout_uri: Annotated[str, Parameter(name="holdout_uri", description="holdout snapshot (Parquet)")]


def preprocess(
    model: str,
    dataset_uri: str,
    workflow_name: str,
    target: str,
    task: str,
    holdout_share: float,
    preprocess: str,
) -> PreprocessOutput:
    from workflows.steps import data

    out = _call(
        "preprocess",
        data.preprocess,
        model=model,
        dataset_uri=dataset_uri,
        workflow_name=workflow_name,
        target=target,
        task=task,
        holdout_share=holdout_share,
        preprocess=preprocess,
    )
    return PreprocessOutput(train_uri=out["train_uri"], holdout_uri=out["holdout_uri"])


class TrainOutput(Output):
    model_sha256: Annotated[
        str, Parameter(name="model_sha256", description="sha256 of the model file; evaluate checks it")
    ]


def train(
    model: str,
    train_uri: str,
    task: str,
    target: str,
    trainer: str,
    preprocess: str,
    base_params: str,
    params: str,
    timeout_s: float,
    workflow_name: str,
    model_file: Annotated[Path, _file("model")],
) -> TrainOutput:
    from workflows.steps import train as steps

    out = _call(
        "train",
        steps.train,
        model=model,
        train_uri=train_uri,
        model_path=model_file,
        task=task,
        target=target,
        trainer=trainer,
        preprocess=preprocess,
        params=steps.merge_params(_json(base_params, "base_params"), params),
        timeout_s=timeout_s,
        workflow_name=workflow_name,
    )
    return TrainOutput(model_sha256=out["sha256"])


class EvaluateOutput(Output):
    verdict: Annotated[
        str, Parameter(name="verdict", description="passed | rejected, as scored; register recomputes it")
    ]
    challenger_score: Annotated[float, Parameter(name="challenger_score")]
    champion_version: Annotated[str, Parameter(name="champion_version")]


def evaluate(
    model: str,
    model_file: Annotated[Path, Artifact(name="challenger")],
    model_sha256: str,
    holdout_uri: str,
    task: str,
    target: str,
    primary_metric: str,
    gate_margin: float,
    min_score: str,
    workflow_name: str,
    metrics: Annotated[Path, _file("metrics")],
    estimator: Annotated[Path, _file("estimator")],
) -> EvaluateOutput:
    """Runs in the user's image without the signing key: scores only (see :mod:`workflows.steps.register`)."""
    from workflows.steps import evaluate as steps

    out = _call(
        "evaluate",
        steps.evaluate,
        model=model,
        model_file=model_file,
        model_sha256=model_sha256,
        holdout_uri=holdout_uri,
        metrics_path=metrics,
        estimator_path=estimator,
        task=task,
        target=target,
        primary_metric=primary_metric,
        gate_margin=gate_margin,
        min_score=_min_score(min_score),
        workflow_name=workflow_name,
    )
    return EvaluateOutput(
        verdict=out["verdict"],
        challenger_score=out["gate"]["challenger"],
        champion_version=out["champion_version"],
    )


def _min_score(text: str) -> float | None:
    return float(text) if str(text).strip() else None


class RegisterOutput(Output):
    verdict: Annotated[str, Parameter(name="verdict", description="passed | rejected (the recomputed gate)")]
    version: Annotated[str, Parameter(name="version", description="the registered version, or empty")]


def register(
    model: str,
    model_file: Annotated[Path, Artifact(name="challenger")],
    scores: Annotated[Path, Artifact(name="scores")],
    estimator: Annotated[Path, Artifact(name="estimator")],
    model_sha256: str,
    train_uri: str,
    holdout_uri: str,
    task: str,
    target: str,
    primary_metric: str,
    gate_margin: float,
    min_score: str,
    monitor: str,
    reason: str,
    event_id: str,
    report_uri: str,
    dataset_uri: str,
    workflow_name: str,
    workflow_uid: str,
    metrics: Annotated[Path, _file("registration")],
    reference_profile: Annotated[Path | None, _file("reference-profile", optional=True)],
) -> RegisterOutput:
    """Runs in driftloop's image with the signing key; unpickles nothing."""
    from workflows.steps import register as steps

    out = _call(
        "register",
        steps.register,
        model=model,
        model_file=model_file,
        model_sha256=model_sha256,
        scores_file=scores,
        estimator_file=estimator,
        train_uri=train_uri,
        holdout_uri=holdout_uri,
        metrics_path=metrics,
        profile_path=reference_profile,
        task=task,
        target=target,
        primary_metric=primary_metric,
        gate_margin=gate_margin,
        min_score=_min_score(min_score),
        monitor=_json(monitor, "monitor"),
        reason=reason,
        event_id=event_id,
        report_uri=report_uri,
        dataset_uri=dataset_uri,
        workflow_name=workflow_name,
        workflow_uid=workflow_uid,
    )
    return RegisterOutput(verdict=out["verdict"], version=out["version"])


def deploy_canary(model: str, version: str, workflow_name: str) -> None:
    from workflows.steps import deploy

    _call("deploy-canary", deploy.deploy_canary, model=model, version=version, workflow_name=workflow_name)


class AnalyzeOutput(Output):
    verdict: Annotated[str, Parameter(name="verdict", description="promote | rollback")]


def analyze_canary(model: str, version: str, workflow_name: str, duration_s: float) -> AnalyzeOutput:
    from workflows.steps import deploy

    out = _call(
        "analyze-canary",
        deploy.analyze_canary,
        model=model,
        version=version,
        workflow_name=workflow_name,
        duration_s=duration_s,
    )
    return AnalyzeOutput(verdict=out["decision"])


def canary_step(model: str, version: str, workflow_name: str, step: int, duration_s: float) -> AnalyzeOutput:
    """A later step of a stepped rollout: set the challenger's traffic share, analyse the step."""
    from workflows.steps import deploy

    out = _call(
        f"canary-step-{step}",
        deploy.canary_step,
        model=model,
        version=version,
        workflow_name=workflow_name,
        step_index=step,
        duration_s=duration_s,
    )
    return AnalyzeOutput(verdict=out["decision"])


def request_approval(model: str, version: str, workflow_name: str, timeout_s: float) -> None:
    from workflows.steps import approval

    _call(
        "request-approval",
        approval.request_approval,
        model=model,
        version=version,
        workflow_name=workflow_name,
        timeout_s=timeout_s,
    )


def check_approval(model: str, version: str, workflow_name: str) -> AnalyzeOutput:
    """After the wait: promote when approved; rollback when rejected or timed out."""
    from workflows.steps import approval

    out = _call(
        "check-approval", approval.check_approval, model=model, version=version, workflow_name=workflow_name
    )
    return AnalyzeOutput(verdict=out["decision"])


def promote(model: str, version: str, workflow_name: str) -> None:
    from workflows.steps import deploy

    _call("promote", deploy.promote, model=model, version=version, workflow_name=workflow_name)


def rollback(model: str, version: str, workflow_name: str) -> None:
    from workflows.steps import deploy

    _call("rollback", deploy.rollback, model=model, version=version, workflow_name=workflow_name)


def publish_outcome(
    model: str,
    status: str,
    reason: str,
    event_id: str,
    workflow_name: str,
    workflow_uid: str,
    failures: str,
) -> None:
    from workflows.steps import outcome

    out = _call(
        "publish-outcome",
        outcome.publish_outcome,
        model=model,
        status=status,
        reason=reason,
        event_id=event_id,
        workflow_name=workflow_name,
        workflow_uid=workflow_uid,
        failures=failures,
    )
    print(out["type"], file=sys.stderr)


def monitor_check(model: str, current: str, minutes: float, publish: bool) -> None:
    from workflows.steps import monitor

    _call("check", monitor.check_all, model=model, current=current, minutes=minutes, publish=publish)


def admit(model: str, event_id: str, reason: str, workflow_name: str, workflow_uid: str) -> None:
    """The sensors' admission policies as the retrain's first step (ledger, cooldown, concurrency,
    back-pressure, storm breaker): a run that is not admitted stops here, before any work."""
    import time

    from sensors.admission import admit as admit_run

    # A policy rejection is final, so the template has no retryStrategy; only an unreachable S3 / Kafka
    # (a retriable error) is tried again, here.
    def attempt(settings: Any, **_: Any) -> str:
        for wait_s in (2, 5, 10):
            try:
                return admit_run(model, event_id, reason, workflow_name, workflow_uid, settings)
            except DriftloopError as exc:
                if not exc.retriable:
                    raise
                print(f"admission: {exc}; trying again in {wait_s}s", file=sys.stderr)
                time.sleep(wait_s)
        return admit_run(model, event_id, reason, workflow_name, workflow_uid, settings)

    print(_call("admit", attempt, model=model), file=sys.stderr)


class ModelsOutput(Output):
    models: Annotated[str, Parameter(name="models", description="JSON list of the models to check")]


def monitor_models(model: str) -> ModelsOutput:
    """The models this monitor run checks: the one given, or every model with a champion."""
    from workflows.steps import monitor_shards

    return ModelsOutput(models=json.dumps(_call("models", monitor_shards.models, model=model)))


class PlanOutput(Output):
    mode: Annotated[str, Parameter(name="mode", description="sharded | single")]
    shards: Annotated[str, Parameter(name="shards", description="JSON list of the shard numbers")]


def monitor_plan(model: str, current: str, shards: str, run: str) -> PlanOutput:
    from workflows.steps import monitor_shards

    out = _call("plan", monitor_shards.plan, model=model, current=current, shards=shards, run=run)
    return PlanOutput(mode=out["mode"], shards=json.dumps(out["shards"]))


def monitor_summarize(model: str, shard: int, run: str) -> None:
    from workflows.steps import monitor_shards

    out = _call("summarize", monitor_shards.summarize, model=model, shard=shard, run=run)
    print(json.dumps(out), file=sys.stderr)


def monitor_merge(model: str, run: str, publish: bool) -> None:
    from workflows.steps import monitor_shards

    out = _call("merge", monitor_shards.merge, model=model, run=run, publish=publish)
    print(json.dumps(out), file=sys.stderr)
