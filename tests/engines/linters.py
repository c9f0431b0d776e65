"""Argo's own validators, as the tests call them: the Argo Workflows CLI (``argo lint --offline``), the
Argo Events CLI (``argo-events lint --strict``) and Argo Events' JSON schema for what its linter skips
(the EventBus). ``make engines`` builds them from the Go module proxy into ``.bin/`` (versions pinned by
``tests/engines/*/go.mod``); a missing one FAILS the test that needs it with the command to run.
"""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

__all__ = ["BIN", "Lint", "argo_events_lint", "argo_lint", "event_bus_errors"]

BIN = REPO / ".bin"
INSTALL = "make engines  (needs Go; builds Argo's CLIs from the Go module proxy into .bin/)"


@dataclass(frozen=True)
class Lint:
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{path} is missing — run `{INSTALL}`", pytrace=False)
    return path


def _run(cmd: list[str]) -> Lint:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    return Lint(proc.returncode, (proc.stdout + proc.stderr).strip())


def argo_lint(*paths: Path) -> Lint:
    """``argo lint --offline`` (strict) over files or directories; pass the WorkflowTemplates that
    CronWorkflows and Workflows reference in the same call."""
    return _run([str(_tool("argo")), "lint", "--offline", "--no-color", "-o", "simple", *map(str, paths)])


def argo_events_lint(*paths: Path) -> Lint:
    """``argo-events lint -R --strict``: EventSources and Sensors (it skips every other kind)."""
    return _run([str(_tool("argo-events")), "lint", "-R", "--strict", *map(str, paths)])


@cache
def _event_bus_schema() -> dict[str, Any]:
    schema = json.loads(_tool("argo-events.schema.json").read_text())
    strict = copy.deepcopy(schema)
    for definition in strict["definitions"].values():  # unknown fields are errors, as strict decoding
        if "properties" in definition:
            definition.setdefault("additionalProperties", False)
    return {**strict, "$ref": "#/definitions/io.argoproj.events.v1alpha1.EventBus"}


def event_bus_errors(doc: dict[str, Any]) -> list[str]:
    """An EventBus checked against Argo Events' own JSON schema (``api/jsonschema/schema.json`` of the
    pinned module), unknown fields refused."""
    import jsonschema

    validator = jsonschema.Draft7Validator(_event_bus_schema())
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(doc)
    ]
