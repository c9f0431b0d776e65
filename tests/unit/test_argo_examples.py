"""Argo's own ``examples/`` in the local executor — when pointed at a local checkout of them.

    DRIFTLOOP_ARGO_EXAMPLES=/path/to/argo-workflows/examples \
        .venv/bin/python -m pytest tests/unit/test_argo_examples.py

Skipped when the variable is unset: CI has no network, and Argo's files are not part of this repository
(they are read, never copied). ``argo_examples.yaml`` beside this file holds, per example, the outcome
Argo gives — ``phase`` (and ``nodes``: display name → phase, for the ones whose semantics show in the
node set) — or ``refused``: the field the local executor names when it refuses an example that needs a
cluster, or ``skip``: why the example means nothing without one (an image's own program, a daemon, a
Kubernetes resource). Every example meaningful without a cluster must give Argo's outcome.
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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES, reason="set DRIFTLOOP_ARGO_EXAMPLES to a checkout of Argo's examples/"),
]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_argo_example(name: str, settings_for, bucket, tmp_path: Path) -> None:
    from driftloop.local.executor import run_workflow

    expected = EXPECTED[name]
    path = Path(EXAMPLES) / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {EXAMPLES}")
    if "skip" in expected:
        pytest.skip(expected["skip"])
    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    params = {str(k): str(v) for k, v in (expected.get("parameters") or {}).items()}
    if "refused" in expected:
        with pytest.raises(WorkflowError, match=re.escape(str(expected["refused"]))):
            run_workflow(path, params, settings)
        return
    result = run_workflow(path, params, settings)
    assert result.phase == expected["phase"], (
        result.message,
        [(n.display_name, n.phase) for n in result.nodes],
    )
    for display, phase in (expected.get("nodes") or {}).items():
        phases = {n.phase for n in result.nodes if n.display_name == display}
        assert phases == {phase}, (display, phases)
    assert all(n.phase not in ("Running", "Pending") for n in result.nodes)
