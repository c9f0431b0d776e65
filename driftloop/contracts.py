"""Names and rules that several components share — each written once, here.

The monitors, the Sensor, the CronWorkflows, the CLI and the local runtime all refer to the retrain and
monitor WorkflowTemplates, to the parameters a trigger fills, and to the name a drift-triggered run gets.
They import them from this module; none of them imports another component for a name.

The run-name rule exists in two forms that must agree: :data:`RUN_NAME_TEMPLATE`, the Go template Argo
Events renders in the Sensor's trigger (sprig functions), and :func:`run_name`, the same rule in Python
(the admission step, ``workflow submit``, the demo). A test pins one to the other for model names up to
63 characters.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "APPROVAL_RECORD",
    "CANARY_OWNER_RECORD",
    "LEASE_S",
    "MONITOR_TEMPLATE",
    "NAME_LIMIT",
    "NO_RETRY_EXIT",
    "NO_RETRY_EXPRESSION",
    "REASONS",
    "RETRAIN_DEADLINE_S",
    "RETRAIN_TEMPLATE",
    "RETRAIN_TEMPLATE_OF_EVENT",
    "RUN_NAME_TEMPLATE",
    "TRIGGER_PARAMETERS",
    "lease_s",
    "retrain_template",
    "run_deadline_s",
    "run_name",
]

#: The prefix of the WorkflowTemplate that retrains one model (``workflows/retrain.py``): one template per
#: model, ``driftloop-retrain-<model>``, carrying the model's image, resources and spec.
RETRAIN_TEMPLATE = "driftloop-retrain"
#: The retrain template of the model an event names, as the Sensor's trigger renders it (Go template).
RETRAIN_TEMPLATE_OF_EVENT = "driftloop-retrain-{{ .Input.body.data.model }}"
#: The WorkflowTemplate that checks drift (``workflows/monitor.py``).
MONITOR_TEMPLATE = "driftloop-monitor"
#: Why a retrain run started: its ``reason`` parameter and ``driftloop.io/reason`` label. An event-triggered
#: run takes its reason from the event's ``data.reason`` (the monitor signal that fired:
#: ``driftloop.monitorspec.SIGNALS``).
REASONS = (
    "drift",
    "schedule",
    "manual",
    "performance",
    "estimated-performance",
    "multivariate",
    "segment-drift",
)
#: A retrain run's ``activeDeadlineSeconds``: Argo stops a run by then, so a concurrency slot (a lease)
#: held longer than this plus a grace period belongs to a dead run and is reclaimed.
RETRAIN_DEADLINE_S = 4 * 3600
LEASE_S = RETRAIN_DEADLINE_S + 600


def run_deadline_s(approval_wait_s: int = 0) -> int:
    """A model's retrain ``activeDeadlineSeconds``: the retrain deadline plus the time a run may wait for
    a manual approval (``approval: required`` → ``approval_timeout_s``)."""
    return RETRAIN_DEADLINE_S + approval_wait_s


def lease_s(approval_wait_s: int = 0) -> int:
    """How long an admitted run holds its model's concurrency slot before it counts as dead: its deadline
    plus a grace period, so a run waiting for approval keeps its slot for the whole wait."""
    return run_deadline_s(approval_wait_s) + (LEASE_S - RETRAIN_DEADLINE_S)


#: The registry record on a challenger version that names the run whose canary it is (``deploy-canary``
#: writes it; ``up``'s reconciliation and the canary analysis read it).
CANARY_OWNER_RECORD = "canary_owner"
#: The registry record of a decision made by hand on a challenger (``driftloop approve|reject``): read by
#: the approval step and, during a canary window, by the analysis.
APPROVAL_RECORD = "approval"

#: The exit code of a step that failed on a configuration, usage or data error (the CLI's exit code 2 for the
#: same errors): trying again cannot help, so the templates' ``retryStrategy`` does not retry it
#: (:data:`NO_RETRY_EXPRESSION`; Argo passes ``lastRetry.exitCode`` as a string — a lost pod is ``-1``).
NO_RETRY_EXIT = 2
NO_RETRY_EXPRESSION = f"asInt(lastRetry.exitCode) != {NO_RETRY_EXIT}"

#: The retrain parameters an event trigger fills, in the order of the Sensor's ``spec.arguments``.
TRIGGER_PARAMETERS = ("model", "reason", "event_id", "report_uri")

#: A Workflow name is a label value on its pods (``workflows.argoproj.io/workflow``): at most 63 characters.
NAME_LIMIT = 63
_DIGEST = 10
#: Room for the model in a run name: ``retrain-`` + model + ``-`` + 10 hex digits = 63.
_MODEL_ROOM = NAME_LIMIT - len("retrain-") - 1 - _DIGEST

#: The Workflow name of an event-triggered run, as Argo Events renders it (sprig: ``lower``, ``trunc``,
#: ``trimSuffix``, ``sha256sum``): ``retrain-<model, cut to fit>-<first 10 hex of sha256(event id)>``.
#: The same event always gives the same name, so a redelivered event cannot start a second run.
RUN_NAME_TEMPLATE = (
    f'retrain-{{{{ .Input.body.data.model | lower | trunc {_MODEL_ROOM} | trimSuffix "-" }}}}'
    f"-{{{{ .Input.body.id | sha256sum | trunc {_DIGEST} }}}}"
)


def retrain_template(model: str) -> str:
    """The name of ``model``'s retrain WorkflowTemplate (what :data:`RETRAIN_TEMPLATE_OF_EVENT` renders)."""
    return f"{RETRAIN_TEMPLATE}-{model}"


def run_name(model: str, event_id: str) -> str:
    """The name :data:`RUN_NAME_TEMPLATE` gives, computed in Python (at most 63 characters)."""
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:_DIGEST]
    return f"retrain-{model.lower()[:_MODEL_ROOM].removesuffix('-')}-{digest}"
