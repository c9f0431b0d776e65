"""`driftloop workflow submit` through Hera's WorkflowsService.

These tests talk to a FAKE Argo Server: a small HTTP server on loopback (127.0.0.1, a free port) that
checks each request the way Argo's API does — ``POST /api/v1/workflows/{namespace}`` with a JSON body
``{"workflow": {...}}`` holding a valid Workflow, an ``Authorization: Bearer <token>`` header (401
otherwise), 409 for a name that exists — and answers like Argo (the created Workflow with a uid).
"""

from __future__ import annotations

import json
import uuid

import pytest

from driftloop.config import load_settings
from driftloop.contracts import run_name
from driftloop.errors import ConfigError, ConnectionError_, UsageError, WorkflowError
from driftloop.submit import build_workflow, submit, wait
from tests.fakes import JsonHandler, serving

TOKEN = "s3cr3t"
# Hera 7.1 serialises requests with pydantic v1-style `.json()`; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The `json` method is deprecated")


class FakeArgo:
    def __init__(self) -> None:
        self.workflows: dict[tuple[str, str], dict] = {}
        self.requests: list[dict] = []
        self.gets = 0
        fake = self

        class Handler(JsonHandler):
            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._reply(401, {"code": 16, "message": "token not valid"})
                    return False
                return True

            def do_POST(self):
                body = self.read_json() or {}
                fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                if not self._authorized():
                    return
                parts = self.path.strip("/").split("/")
                if parts[:3] != ["api", "v1", "workflows"] or len(parts) != 4:
                    return self._reply(404, {"code": 5, "message": "Not Found"})
                if self.headers.get("Content-Type") != "application/json":
                    return self._reply(400, {"code": 3, "message": "content type"})
                wf = body.get("workflow")
                if not isinstance(wf, dict) or set(body) - {
                    "workflow",
                    "namespace",
                    "serverDryRun",
                    "createOptions",
                }:
                    return self._reply(400, {"code": 3, "message": "body must be {workflow: ...}"})
                meta, spec = wf.get("metadata") or {}, wf.get("spec") or {}
                if not (meta.get("name") or meta.get("generateName")) or not (
                    spec.get("workflowTemplateRef") or spec.get("templates")
                ):
                    return self._reply(400, {"code": 3, "message": "invalid workflow"})
                ns = parts[3]
                name = meta.get("name") or meta["generateName"] + uuid.uuid4().hex[:5]
                if (ns, name) in fake.workflows:
                    return self._reply(
                        409, {"code": 6, "message": f'workflows.argoproj.io "{name}" already exists'}
                    )
                created = {
                    **wf,
                    "metadata": {**meta, "name": name, "namespace": ns, "uid": str(uuid.uuid4())},
                    "status": {"phase": ""},
                }
                created["metadata"].pop("generateName", None)
                fake.workflows[(ns, name)] = created
                self._reply(200, created)

            def do_GET(self):
                if not self._authorized():
                    return
                parts = self.path.split("?")[0].strip("/").split("/")
                wf = fake.workflows.get((parts[3], parts[4])) if len(parts) == 5 else None
                if wf is None:
                    return self._reply(404, {"code": 5, "message": "not found"})
                fake.gets += 1
                wf["status"]["phase"] = "Running" if fake.gets < 2 else "Succeeded"
                self._reply(200, wf)

        self.handler = Handler
        self.url = ""


@pytest.fixture
def argo():
    fake = FakeArgo()
    with serving(fake.handler) as url:
        fake.url = url
        yield fake


@pytest.fixture
def settings(argo):
    return load_settings(
        env={}, overrides={"argo.server_url": argo.url, "argo.token": TOKEN, "argo.namespace": "ml"}
    )


def test_submit_template_ref_with_parameters(argo, settings):
    manifest = build_workflow("driftloop-retrain-credit", {"model": "credit", "reason": "manual"})
    sub = submit(settings, manifest)
    assert (
        sub.created and sub.namespace == "ml" and sub.name.startswith("driftloop-retrain-credit-") and sub.uid
    )
    req = argo.requests[-1]
    assert req["path"] == "/api/v1/workflows/ml"
    assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
    wf = req["body"]["workflow"]
    assert wf["spec"]["workflowTemplateRef"] == {"name": "driftloop-retrain-credit"}
    assert {"name": "model", "value": "credit"} in wf["spec"]["arguments"]["parameters"]
    assert wf["metadata"]["labels"]["driftloop.io/model"] == "credit"
    assert wf["metadata"]["generateName"] == "driftloop-retrain-credit-"


def test_event_triggered_run_is_idempotent(argo, settings):
    params = {"model": "credit", "reason": "drift", "event_id": "evt-123"}
    first = submit(settings, build_workflow("driftloop-retrain-credit", params))
    again = submit(settings, build_workflow("driftloop-retrain-credit", params))
    assert first.name == again.name == run_name("credit", "evt-123")
    assert first.created and not again.created and again.uid == first.uid
    assert len(argo.workflows) == 1
    assert argo.requests[-1]["body"]["workflow"]["metadata"]["annotations"] == {
        "driftloop.io/event-id": "evt-123"
    }


def test_run_name_is_rfc1123_and_bounded():
    name = run_name("m" * 70, "e")
    assert len(name) <= 63 and name.startswith("retrain-m") and name[-10:].isalnum()
    assert run_name("credit", "x") == run_name("credit", "x") != run_name("credit", "y")


def test_submit_a_file_and_wait(argo, settings, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text("""
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: hello}
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: world}]}
  templates: [{name: main, container: {image: busybox, command: [echo, "{{workflow.parameters.who}}"]}}]
""")
    sub = submit(settings, build_workflow(str(path), {"who": "argo"}))
    wf = argo.requests[-1]["body"]["workflow"]
    assert wf["kind"] == "Workflow" and wf["metadata"]["generateName"] == "hello-"
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "argo"}]
    assert wait(settings, sub, poll_s=0.01, timeout_s=5) == "Succeeded"
    with pytest.raises(UsageError, match="declares no parameter 'nope'"):
        build_workflow(str(path), {"nope": "1"})


def test_bad_token_unreachable_and_no_url(argo, settings):
    with pytest.raises(WorkflowError, match="unauthorized"):
        submit(settings, build_workflow("driftloop-retrain-credit", {"model": "x"}), token="wrong")
    with pytest.raises(ConnectionError_):
        submit(
            settings, build_workflow("driftloop-retrain-credit", {"model": "x"}), server="http://127.0.0.1:9"
        )
    with pytest.raises(ConfigError, match="no Argo Server URL"):
        submit(load_settings(env={}), build_workflow("driftloop-retrain-credit", {"model": "x"}))


def test_cli_command(argo, settings, clean_env, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from driftloop.cli.submit import submit as submit_cmd

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        pass

    app.command("submit")(submit_cmd)
    monkeypatch.setenv("DRIFTLOOP_ARGO__TOKEN", TOKEN)
    result = CliRunner().invoke(
        app,
        [
            "submit",
            "driftloop-retrain-credit",
            "-p",
            "model=credit",
            "-p",
            "event_id=e9",
            "--argo-server",
            argo.url,
            "-n",
            "team",
            "--wait",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        out["name"] == run_name("credit", "e9") and out["namespace"] == "team" and out["phase"] == "Succeeded"
    )
    assert argo.requests[-1]["path"] == "/api/v1/workflows/team"
