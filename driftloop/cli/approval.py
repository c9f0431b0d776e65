"""``driftloop approve MODEL`` / ``driftloop reject MODEL``: decide a retrain run's canary by hand.

During the canary analysis the decision ends the window (promote / roll back at the analysis's next
look); with ``approval: required``, after the analysis, it is the manual approval: the decision is
recorded on the waiting challenger version in the registry
(:func:`workflows.steps.approval.decide`), then the run's ``wait-approval`` node is resumed — in the
local executor (the run's record directory), or on the Argo Server (``argo.server_url``) through its
resume API with ``nodeFieldSelector: displayName=wait-approval``. The run's ``check-approval`` step
reads the record: approve → promote; reject → rollback-rejected.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from driftloop.cli._common import console, err_console, settings_from
from driftloop.errors import ConnectionError_, UsageError, WorkflowError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["approve", "reject", "resume_run"]


def resume_run(settings: Settings, workflow: str) -> str:
    """Resume ``workflow``'s approval node; returns where (``local`` or the Argo Server's URL)."""
    from workflows.steps.approval import WAIT_NODE

    if settings.argo.server_url:
        return _resume_on_argo(settings, workflow, WAIT_NODE)
    from driftloop.local.executor import RESUME, is_live, load_run, request_suspended, run_dir

    result = load_run(settings.data_dir, workflow)
    if not is_live(result):
        raise UsageError(
            f"run {workflow} is not running here ({result.phase}): the decision is recorded but nothing "
            "was resumed",
            "set argo.server_url if the run is on a cluster; `driftloop runs list` shows local runs",
        )
    request_suspended(run_dir(settings.data_dir, workflow), RESUME)
    return "local"


def _resume_on_argo(settings: Settings, workflow: str, node: str) -> str:
    import requests
    from hera.exceptions import HeraException
    from hera.workflows import WorkflowsService
    from hera.workflows.models import WorkflowResumeRequest

    url = settings.argo.server_url
    svc = WorkflowsService(
        host=url.rstrip("/") + "/",
        token=settings.argo.token.get_secret_value() or None,
        verify_ssl=settings.argo.verify_ssl,
    )
    ns = settings.argo.namespace
    req = WorkflowResumeRequest(name=workflow, namespace=ns, node_field_selector=f"displayName={node}")
    try:
        svc.resume_workflow(workflow, req, namespace=ns)
    except requests.ConnectionError:
        raise ConnectionError_(
            f"Argo Server at {url} is unreachable: the decision is recorded, the run not resumed",
            f"retry, or resume it by hand: `argo resume {workflow} --node-field-selector displayName={node}`",
        ) from None
    except HeraException as exc:
        raise WorkflowError(
            f"Argo Server refused to resume {workflow}: {exc}",
            "check argo.token and argo.namespace; the decision is recorded — resume it in the Argo UI",
        ) from None
    return url


def _decide(
    ctx: typer.Context, model: str, decision: Literal["approve", "reject"], reason: str, as_json: bool
) -> None:
    from workflows.steps.approval import decide

    settings = settings_from(ctx)
    out = decide(settings, model, decision, reason=reason)
    verb = "approved" if decision == "approve" else "rejected"
    if out["stage"] == "canary":  # nothing is suspended: the analysis reads the record at its next look
        out["resumed"] = None
        where = "its canary analysis takes the decision at its next look"
    else:
        out["resumed"] = resume_run(settings, out["workflow"])
        where = f"resumed {out['resumed']}"
    if as_json:
        console.print_json(json.dumps(out))
    err_console.print(f"{verb} {model} {out['version']} (run {out['workflow']}, {where})", highlight=False)


def approve(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model whose canary waits for approval")],
    reason: Annotated[str, typer.Option("--reason", help="a note kept with the decision")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
) -> None:
    """Approve the canary a retrain run waits on: the run promotes it."""
    _decide(ctx, model, "approve", reason, as_json)


def reject(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model whose canary waits for approval")],
    reason: Annotated[str, typer.Option("--reason", help="a note kept with the decision")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
) -> None:
    """Reject the canary a retrain run waits on: the run rolls it back."""
    _decide(ctx, model, "reject", reason, as_json)
