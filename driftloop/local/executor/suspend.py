"""``suspend`` templates: a node that waits — for a duration, or until the run is resumed or stopped.

As on Argo, a ``suspend`` node stays ``Running`` until ``driftloop workflow resume NAME`` (``argo resume``)
or, with ``suspend.duration``, until that much time has passed (whichever comes first);
``driftloop workflow stop NAME`` (``argo stop``) ends it ``Failed`` and the run goes on to its exit
handler. The commands talk to the run through files in its record directory (:data:`RESUME`,
:data:`STOP`), so they work from another process. The workflow's deadline still applies. Output
parameters of a suspend template take the value given on resume (``-p name=value``), else
``valueFrom.default``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.retry import parse_duration
from driftloop.local.executor.template import render

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext
    from driftloop.local.executor.result import NodeResult

__all__ = ["RESUME", "STOP", "request", "run_suspend"]

RESUME = "resume.json"
STOP = "stop.json"
_POLL_S = 0.2


def request(run_dir: Path, what: str, parameters: Mapping[str, str] | None = None) -> None:
    """Ask a running run to resume (``RESUME``, with output parameter values) or stop (``STOP``)."""
    path = run_dir / what
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": time.time(), "parameters": dict(parameters or {})}))
    tmp.replace(path)


def run_suspend(run: RunContext, tmpl: Mapping[str, Any], node: NodeResult, scope: dict[str, str]) -> None:
    """Wait as ``tmpl['suspend']`` says; sets the node's phase, message and output parameters."""
    spec = tmpl.get("suspend") or {}
    duration = None
    if spec.get("duration") not in (None, ""):
        duration = parse_duration(
            render(str(spec["duration"]), scope), f"template {tmpl['name']}.suspend.duration"
        )
    control = run.logs_dir.parent
    node.started = time.time()
    node.phase = "Running"
    run.checkpoint()
    until = None if duration is None else time.monotonic() + duration
    supplied: dict[str, str] = {}
    while True:
        run.check_cancel()
        stop = control / STOP
        if stop.exists():
            node.phase, node.message = "Failed", "Stopped with strategy 'Stop'"
            return
        resume = control / RESUME
        if resume.exists():
            supplied = dict(json.loads(resume.read_text()).get("parameters") or {})
            resume.unlink(missing_ok=True)  # one resume releases the nodes suspended now
            break
        if until is not None and time.monotonic() >= until:
            break
        left = run.remaining()
        if left is not None and left <= 0:
            node.phase, node.message = "Failed", "Max duration limit exceeded"
            return
        time.sleep(_POLL_S)
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        name = str(p["name"])
        default = (p.get("valueFrom") or {}).get("default")
        if name in supplied:
            node.parameters[name] = str(supplied[name])
        elif default is not None:
            node.parameters[name] = render(str(default), scope)
        else:
            raise WorkflowError(
                f"suspend template {tmpl['name']!r}: output parameter {name!r} was not supplied on resume",
                f"resume with -p {name}=VALUE, or give it valueFrom.default",
            )
    node.phase = "Succeeded"
