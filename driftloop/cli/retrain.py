"""``driftloop retrain MODEL``: a manual run of the model's retrain WorkflowTemplate, and what it did.

The template is rendered from the settings (a model added to ``driftloop.yaml`` runs without a compile
step) and runs in the local executor, or on Argo when ``argo.server_url`` is set. The command waits,
shows the steps as they finish and the progress of the long ones (a canary window), then ends with the
run's outcome (:mod:`workflows.report`): ``promoted`` / ``first-version`` exit 0, ``rejected-by-gate`` /
``rolled-back`` exit 3 (the run Succeeded, the champion is unchanged), ``failed`` exit 1 with the failed
step and its own one-line reason. ``--json`` prints the run's nodes and the same outcome fields.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftloop.cli._common import console, err_console, parse_assignments, settings_from
from driftloop.errors import DriftloopError, UsageError

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.local.executor import NodeResult, WorkflowResult
    from workflows.report import RunReport

__all__ = ["retrain"]

_TERMINATION = re.compile(r"\(exit code -?\d+\): (?P<message>.+)$", re.S)


def retrain(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model to retrain (a key of `models:`)")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="run parameter key=value, e.g. -p params='{\"alpha\": 1}'"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the run (nodes) and its outcome as JSON on stdout")
    ] = False,
) -> None:
    """Retrain MODEL now (reason=manual) and wait; exit 0 when it became champion, 3 when the run
    Succeeded but the champion is unchanged (gate, canary or approval said no), 1 when it failed."""
    from driftloop.cli.models import check_models
    from driftloop.contracts import retrain_template

    settings = settings_from(ctx)
    settings.model(model)  # a ConfigError names the configured models
    params = {"model": model, "reason": "manual", **parse_assignments(list(param or []), "-p")}
    if params["model"] != model:
        raise UsageError(
            "-p model= cannot differ from MODEL",
            f"drop -p model or run `driftloop retrain {params['model']}`",
        )
    before = _champion(settings, model)
    if settings.argo.server_url:
        from driftloop.submit import build_workflow, submit, wait

        sub = submit(settings, build_workflow(retrain_template(model), params))
        err_console.print(f"submitted {sub.namespace}/{sub.name}", highlight=False)
        sub.phase = wait(settings, sub)
        report = _report(settings, model, sub.name, sub.phase, [], before)
        _finish(report, {**sub.to_dict(), **report.to_dict()}, as_json)
    check_models(settings)
    result = _run_locally(settings, model, params)
    failures = _failures(result)
    report = _report(settings, model, result.name, result.phase, failures, before)
    _finish(report, {**result.to_json(), **report.to_dict()}, as_json)


def _run_locally(settings: Settings, model: str, params: dict[str, str]) -> WorkflowResult:
    from driftloop.cli.follow import ProgressFollower
    from driftloop.cli.workflow import print_node
    from driftloop.local.runs import run_local
    from workflows.retrain import admission_task, build_retrain

    template = build_retrain(settings, model, first_task=admission_task).to_dict()
    err_console.print(f"retraining {model} in the local executor ({template['metadata']['name']})")

    def progress(line: str) -> None:
        err_console.print(f"[cyan]…[/]        {line}", highlight=False, soft_wrap=True)

    with ProgressFollower(progress) as follower:

        def on_event(node: NodeResult) -> None:
            print_node(node)
            follower.on_event(node)

        return run_local(
            template, params, settings, templates_dir=Path(settings.manifests_dir), on_event=on_event
        )


def _champion(settings: Settings, model: str) -> str | None:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    return Registry(S3Store(settings)).get_alias(model, "champion")


def _failures(result: WorkflowResult) -> list[dict[str, str]]:
    """The run's failed steps (pods, not their DAG parents nor the exit handler), first first, each with
    the step's own reason: its termination message, else the last ``error:`` line of its log."""
    pods = [
        n
        for n in result.nodes
        if n.type == "Pod" and n.phase in ("Failed", "Error") and ".onExit" not in n.name
    ]
    out: list[dict[str, str]] = []
    for node in sorted(pods, key=lambda n: n.started or 0):
        step = node.display_name.split("(")[0]  # a retried step's attempts are "train(0)", "train(1)"
        if not any(f["step"] == step for f in out):
            out.append({"step": step, "message": _reason(node)})
    return out


def _reason(node: NodeResult) -> str:
    found = _TERMINATION.search(node.message or "")
    if found:
        return found.group("message").strip()
    if node.log:
        try:
            lines = Path(node.log).read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        for line in reversed(lines):
            if line.startswith("error: "):
                return line.removeprefix("error: ").strip()
    return node.message or f"the step ended {node.phase}"


def _report(
    settings: Settings,
    model: str,
    run: str,
    phase: str,
    failures: list[dict[str, str]],
    before: str | None,
) -> RunReport:
    from workflows.report import run_report
    from workflows.steps.context import read_run_record

    record: dict[str, Any] = {}
    after = before
    try:
        record = read_run_record(settings, model, run)
        after = _champion(settings, model)
    except DriftloopError as exc:  # S3 went away: say what the run itself says
        err_console.print(f"cannot read the run record: {exc}", markup=False, soft_wrap=True)
    if not failures and record.get("errors"):  # a cluster run: the steps' own lines are in the record
        failures = [{"step": k, "message": v} for k, v in record["errors"].items()]
    elif failures:
        errors = record.get("errors") or {}
        failures = [{**f, "message": errors.get(f["step"]) or f["message"]} for f in failures]
    return run_report(model, run, phase, record, failures, champion_before=before, champion_after=after)


def _finish(report: RunReport, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(data, default=str))
    style = {0: "green", 3: "yellow"}.get(report.exit_code, "red")
    err_console.print(f"[{style}]{report.line()}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)
