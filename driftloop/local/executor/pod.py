"""A leaf node: stage input artifacts, run the process, collect outputs (result, parameters, artifacts)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import NotFound, WorkflowError
from driftloop.local.executor import artifacts as arts
from driftloop.local.executor.naming import pod_name
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.runner import run_process
from driftloop.local.executor.template import render, render_obj
from driftloop.local.executor.volumes import inside, local_path, mount_mapping, no_dotdot

if TYPE_CHECKING:
    from driftloop.local.executor.context import RunContext

__all__ = ["run_pod"]


def run_pod(
    run: RunContext,
    tmpl: Mapping[str, Any],
    node: NodeResult,
    scope: dict[str, str],
    in_artifacts: Mapping[str, Mapping[str, Any]],
    timeout: float | None,
) -> None:
    """Run ``tmpl`` (script or container) for ``node``; sets the node's phase, message and outputs."""
    kind = "script" if "script" in tmpl else "container"
    name = str(tmpl["name"]).rsplit("/", 1)[-1]  # a templateRef'd template: its own name (Argo's pod name)
    node.pod_name = pod_name(run.name, node.name, name)
    scope = {**scope, "pod.name": node.pod_name}
    outputs = tmpl.get("outputs") or {}
    out_params = [render_obj(p, scope) for p in outputs.get("parameters") or []]
    out_arts = [render_obj(a, scope) for a in outputs.get("artifacts") or []]
    for p in out_params:
        if (p.get("valueFrom") or {}).get("path"):
            scope[f"outputs.parameters.{p['name']}.path"] = p["valueFrom"]["path"]
    for a in out_arts:
        if a.get("path"):
            scope[f"outputs.artifacts.{a['name']}.path"] = a["path"]
    spec = render_obj(dict(tmpl[kind]), scope)
    run.note_image(spec.get("image"))
    sandbox = run.sandbox_root / node.pod_name
    mounts = mount_mapping(tmpl, run.spec, spec.get("volumeMounts") or [], sandbox, run.sandbox_root)
    declared = [str(p["valueFrom"]["path"]) for p in out_params if (p.get("valueFrom") or {}).get("path")]
    declared += [str(a["path"]) for a in out_arts if a.get("path")]
    for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
        art = render_obj(art, scope)
        if art.get("path"):
            declared.append(str(art["path"]))
        where = f"inputs.artifacts.{art['name']}.path"
        _stage_input(
            run,
            art,
            in_artifacts.get(art["name"]),
            local_path(str(art.get("path") or ""), sandbox, mounts, where),
        )
    log = run.logs_dir / f"{node.pod_name}.log"
    node.log = str(log)
    outcome = run_process(
        kind,
        spec,
        declared,
        sandbox,
        log,
        timeout,
        env_extra=run.pod_env,
        mounts=mounts,
        cancelled=run.cancelled,
        host=run.host_paths,
    )
    node.exit_code = outcome.exit_code
    if outcome.error:
        node.phase, node.message = "Error", outcome.error
        return
    node.result = step_result(outcome.stdout)
    if outcome.timed_out:
        node.phase, node.message = "Failed", "Pod was active on the node longer than the specified deadline"
    elif outcome.exit_code:
        node.phase, node.message = "Failed", f"Error (exit code {outcome.exit_code})"
    else:
        node.phase = "Succeeded"
    for p in out_params:
        where = f"outputs.parameters.{p['name']}.valueFrom.path"
        path = str((p.get("valueFrom") or {}).get("path") or "")
        try:
            _collect_param(node, p, local_path(path, sandbox, mounts, where), run, run.sandbox_root)
        except WorkflowError as exc:
            if node.phase == "Succeeded":
                node.phase, node.message = "Error", exc.message
    for a in out_arts:
        try:
            key_prefix = render(arts.DEFAULT_KEY_FORMAT, {**run.global_scope(), "pod.name": node.pod_name})
            local = local_path(str(a.get("path", "")), sandbox, mounts, f"outputs.artifacts.{a['name']}.path")
            record = arts.upload(run.store(), a, local, key_prefix, run.sandbox_root) if a.get("path") else {}
        except WorkflowError as exc:
            if node.phase == "Succeeded":
                node.phase, node.message = "Error", exc.message
            continue
        if record:
            node.artifacts.append(record)


#: Argo keeps the last 256 kB of a step's stdout as ``outputs.result``.
RESULT_LIMIT = 256 * 1024


def step_result(stdout: str) -> str:
    """``outputs.result`` as Argo makes it (``CaptureScriptResult``): one trailing newline removed, then the
    last 256 kB (bytes: a character cut in two reads as U+FFFD)."""
    data = stdout.encode("utf-8", errors="surrogateescape")
    if data.endswith(b"\n"):
        data = data[:-1]
    return data[-RESULT_LIMIT:].decode("utf-8", errors="replace")


def _collect_param(node: NodeResult, p: Mapping[str, Any], local: Path, run: RunContext, root: Path) -> None:
    """Set output parameter ``p``; ``local`` is where its ``valueFrom.path`` lives on this machine — a
    symlink out of the run's sandbox ``root`` is refused, never followed to a host file."""
    vf = p.get("valueFrom") or {}
    value: str | None = None
    if vf.get("path"):
        if (local.exists() or local.is_symlink()) and not inside(local, root):
            raise WorkflowError(
                f"cannot save parameter {p['name']}: {vf['path']} leads out of the pod's sandbox (a symlink)",
                "write the value into the file itself",
            )
        if local.is_file():  # a directory cannot be read either: Argo's os.ReadFile fails on it
            value = local.read_text(errors="replace")
    elif "value" in p:
        value = str(p["value"])
    if value is None and "default" in vf:
        value = str(vf["default"])
    if value is not None and vf.get("path"):  # Argo's SaveParameters trims one trailing newline
        value = value.removesuffix("\n")
    if value is None:
        if node.phase == "Succeeded":
            node.phase = "Error"
            node.message = f"cannot save parameter {p['name']}: {vf.get('path')} was not written"
        return
    node.parameters[str(p["name"])] = value
    if p.get("globalName"):
        run.set_global(f"workflow.outputs.parameters.{p['globalName']}", value)


def _stage_input(
    run: RunContext, art: Mapping[str, Any], given: Mapping[str, Any] | None, local: Path
) -> None:
    """Put input artifact ``art`` at ``local`` (its path, on this machine)."""
    source = dict(art)
    if given:
        source.update(given)
    if not art.get("path"):
        raise WorkflowError(f"input artifact {art['name']!r} has no path", "set the path to put it at")
    if local.is_symlink() or not inside(local.parent, run.sandbox_root):  # a link a pod left on a claim
        raise WorkflowError(
            f"input artifact {art['name']!r}: {art['path']} leads out of the pod's sandbox (a symlink)",
            "put the artifact at a path that is not a link",
        )
    local.parent.mkdir(parents=True, exist_ok=True)
    if "raw" in source:
        local.write_text(str((source["raw"] or {}).get("data", "")))
        return
    key = (source.get("s3") or {}).get("key")
    sub = no_dotdot(str(source.get("subPath") or ""), f"artifact {art['name']!r} subPath").strip("/")
    if key and sub:  # one path inside a directory artifact (Argo's subPath on an argument artifact)
        whole = local.parent / f".whole-{art['name']}"
        _fetch(run, art, str(key), whole)
        part = whole / sub
        if not part.exists():
            raise WorkflowError(
                f"input artifact {art['name']!r}: subPath {sub!r} is not in the artifact", "check the subPath"
            )
        shutil.move(str(part), local)
        shutil.rmtree(whole, ignore_errors=True)
        return
    if key:
        _fetch(run, art, str(key), local)
        return
    if art.get("optional"):
        return
    raise WorkflowError(
        f"input artifact {art['name']!r} has no source", "pass it with `from:`, an `s3.key` or `raw.data`"
    )


def _fetch(run: RunContext, art: Mapping[str, Any], key: str, local: Path) -> None:
    """Download ``key`` to ``local``: an object (a tarball is unpacked), else every object under the
    prefix ``key/`` (a directory artifact, as Argo's S3 driver), else nothing for an optional artifact."""
    try:
        arts.download(run.store(), key, local)
    except NotFound:
        if arts.download_directory(run.store(), key, local):
            return
        if art.get("optional"):
            return  # as Argo's executor: an optional input artifact that does not exist is skipped
        raise WorkflowError(
            f"input artifact {art['name']!r}: s3 key {key!r} does not exist in the artifact bucket",
            "produce it in an earlier step, or mark the artifact optional",
        ) from None
