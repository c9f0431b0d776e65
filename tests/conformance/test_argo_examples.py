"""Argo's own ``examples/`` in the local executor — when pointed at a local checkout of them.

    DRIFTLOOP_ARGO_EXAMPLES=/path/to/argo-workflows/examples \
        .venv/bin/python -m pytest tests/conformance/test_argo_examples.py

Skipped when the variable is unset: CI has no network, and Argo's files are not part of this repository
(they are read, never copied). ``argo_examples.yaml`` beside this file holds, per example, the outcome
Argo gives — ``phase`` and/or ``nodes`` (display name → phase; for an example with a random step, only
the nodes whose phase does not depend on chance) — or ``refused``: the field the local executor names
when it refuses an example that needs a cluster, or ``skip``: why the example is not checked (an image's
own program or files, a Windows node, a random outcome, minutes of sleep, a wait for ``argo resume``, or a
difference from Argo still to fix: ``not yet matched``). ``parameters``
are passed as ``-p``; ``timeout`` (seconds, default :data:`DEFAULT_TIMEOUT_S`) bounds a run. Every example
meaningful without a cluster must give Argo's outcome.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.errors import WorkflowError

EXAMPLES = os.environ.get("DRIFTLOOP_ARGO_EXAMPLES", "")
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "argo_examples.yaml").read_text()
)
DEFAULT_TIMEOUT_S = 25.0
_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate")
_KEYS = {"phase", "nodes", "parameters", "timeout", "refused", "skip"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES, reason="set DRIFTLOOP_ARGO_EXAMPLES to a checkout of Argo's examples/"),
]


def _timeout(name: str) -> float:
    return float(EXPECTED[name].get("timeout", DEFAULT_TIMEOUT_S))


def _bounded(path: Path, seconds: float) -> tuple[dict[str, Any] | Path, bool]:
    """The example with ``spec.activeDeadlineSeconds`` lowered to ``seconds``, so the executor itself
    stops a run that overstays (it kills the step processes, none is left behind), and whether that
    bound is the harness's rather than the example's own. A file the executor refuses to read as one
    Workflow is passed on as it is."""
    from driftloop.local.executor.retry import parse_duration

    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    runnable = [d for d in docs if d.get("kind") in _KINDS]
    if len(runnable) != 1:
        return path, False
    doc = runnable[0]
    spec = doc.setdefault("spec", {})
    own = spec.get("activeDeadlineSeconds")
    if own is not None and parse_duration(own, "spec.activeDeadlineSeconds") <= seconds:
        return doc, False
    spec["activeDeadlineSeconds"] = seconds
    return doc, True


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.timeout(_timeout(n) + 60)) for n in sorted(EXPECTED)],
)
def test_argo_example(
    name: str, settings_for, bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.local.executor import run_workflow
    from driftloop.s3 import S3Store

    expected = EXPECTED[name]
    assert set(expected) <= _KEYS, sorted(set(expected) - _KEYS)
    assert len({"phase", "refused", "skip"} & set(expected)) <= 1 and (
        {"phase", "nodes", "refused", "skip"} & set(expected)
    ), f"{name}: give phase and/or nodes, or refused, or skip"
    path = Path(EXAMPLES).resolve() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {EXAMPLES}")
    if "skip" in expected:
        pytest.skip(expected["skip"])
    # A step runs in the executor's working directory: a relative path it writes (`open("result.txt")`)
    # must land here, not in the repository.
    monkeypatch.chdir(tmp_path)
    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    params = {str(k): str(v) for k, v in (expected.get("parameters") or {}).items()}
    if "refused" in expected:
        with pytest.raises(WorkflowError, match=re.escape(str(expected["refused"]))):
            run_workflow(path, params, settings, store_factory=lambda: S3Store(settings))
        return
    limit = _timeout(name)
    doc, bounded = _bounded(path, limit)
    result = run_workflow(doc, params, settings, store_factory=lambda: S3Store(settings))
    if bounded and result.message == "Max duration limit exceeded":
        pytest.fail(f"{name} did not finish within {limit:g} s (its `timeout:` in argo_examples.yaml)")
    if "phase" in expected:
        assert result.phase == expected["phase"], (
            result.message,
            [(n.display_name, n.phase) for n in result.nodes],
        )
    for display, phase in (expected.get("nodes") or {}).items():
        phases = {n.phase for n in result.nodes if n.display_name == display}
        assert phases == {phase}, (display, phases)
    assert all(n.phase not in ("Running", "Pending") for n in result.nodes)
