"""Load a Workflow / WorkflowTemplate and check that every field in it can run locally.

A WorkflowTemplate (or ClusterWorkflowTemplate) is run as a Workflow with its spec; a Workflow with
``spec.workflowTemplateRef`` gets the referenced template's spec from ``templates_dir`` (for example
``manifests/``), with the Workflow's own ``arguments`` winning. Fields that cannot mean the same thing on
one machine raise :class:`~driftloop.errors.WorkflowError` naming the field path; fields that only affect
scheduling on Kubernetes (node selectors, service accounts, pod GC, ...) are ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from driftloop.errors import WorkflowError
from driftloop.local.executor.argolint import lint
from driftloop.local.executor.volumes import check_volumes

__all__ = ["find_template", "load_workflow"]

_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate")
#: A template's kind (the one key of these it holds) -> the type of its nodes on Argo.
NODE_TYPES = {"dag": "DAG", "steps": "Steps", "script": "Pod", "container": "Pod", "suspend": "Suspend"}
_IGNORED_SPEC = {
    "serviceAccountName",
    "podGC",
    "ttlStrategy",
    "ttlSecondsAfterFinished",
    "artifactRepositoryRef",
    "metrics",
    "parallelism",
    "podMetadata",
    "workflowMetadata",
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "podDisruptionBudget",
    "archiveLogs",
    "artifactGC",
    "imagePullSecrets",
    "priority",
    "podPriority",
    "podPriorityClassName",
    "schedulerName",
    "hostNetwork",
    "dnsPolicy",
    "dnsConfig",
    "automountServiceAccountToken",
    "executor",
    "hostAliases",
    "podSpecPatch",
    "volumeClaimGC",
    "retryStrategy",
}
_SPEC = {
    "entrypoint",
    "arguments",
    "templates",
    "onExit",
    "hooks",
    "synchronization",
    "activeDeadlineSeconds",
    "workflowTemplateRef",
    "templateDefaults",
    "volumes",  # emulated in the sandbox (.volumes)
    "volumeClaimTemplates",
} | _IGNORED_SPEC
_TEMPLATE = {
    "name",
    "suspend",
    "inputs",
    "outputs",
    "dag",
    "steps",
    "script",
    "container",
    "retryStrategy",
    "activeDeadlineSeconds",
    "timeout",
    "synchronization",
    "metadata",
    "annotations",  # Argo 4: workflows.argoproj.io/display-name names the node (engine._display_name)
    "nodeSelector",
    "tolerations",
    "affinity",
    "serviceAccountName",
    "automountServiceAccountToken",
    "securityContext",
    "volumes",
    "parallelism",
    "failFast",
    "priority",
    "priorityClassName",
    "schedulerName",
    "archiveLocation",
    "podSpecPatch",
    "metrics",
    "hostAliases",
    "executor",
    "memoize",  # a cache under <data_dir>/memoize (.memoize)
}
_CONTAINER = {
    "image",
    "command",
    "args",
    "env",
    "workingDir",
    "resources",
    "imagePullPolicy",
    "volumeMounts",
    "securityContext",
    "name",
    "ports",
    "source",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
}
_TASK = {
    "name",
    "template",
    "arguments",
    "when",
    "depends",
    "dependencies",
    "withItems",
    "withParam",
    "withSequence",
    "continueOn",
    "templateRef",
    "description",
    "onExit",
    "hooks",
}
_HOOK = {"template", "templateRef", "arguments", "expression"}


def load_workflow(
    doc_or_path: Mapping[str, Any] | str | Path, templates_dir: Path | None = None
) -> dict[str, Any]:
    """A normalised Workflow manifest (``kind: Workflow``) with every field checked."""
    doc = _read(doc_or_path)
    lint(doc, lambda name: find_template(name, templates_dir))  # Argo's submit-time checks, if on PATH
    kind = doc.get("kind", "Workflow")
    if kind not in _KINDS:
        raise WorkflowError(f"kind {kind!r} cannot be run", f"give a {' / '.join(_KINDS)} manifest")
    wf = copy.deepcopy(doc)
    meta_in = wf.get("metadata") or {}
    if kind == "Workflow" and not meta_in.get("name") and not meta_in.get("generateName"):
        raise WorkflowError(
            "metadata.name or metadata.generateName is missing (Argo refuses such a Workflow)",
            "give the Workflow a name or a generateName",
        )
    wf["kind"] = "Workflow"
    if kind != "Workflow":
        # As `argo submit --from workflowtemplate/NAME`: a new Workflow named NAME-xxxxx each time, so
        # two runs of one template never share a name (or a run record).
        meta = wf.setdefault("metadata", {})
        template_name = meta.pop("name", None) or "workflow"
        meta.setdefault("generateName", f"{template_name}-")
        labels = meta.get("labels") or {}
        meta["labels"] = {**labels, "workflows.argoproj.io/workflow-template": template_name}
    spec = wf.setdefault("spec", {})
    ref = spec.get("workflowTemplateRef")
    if ref:
        name = ref.get("name") if isinstance(ref, Mapping) else None
        if not name:
            raise WorkflowError(
                "spec.workflowTemplateRef.name is missing", "name the WorkflowTemplate to run"
            )
        base = find_template(str(name), templates_dir)
        merged = copy.deepcopy(base.get("spec") or {})
        own_args = spec.get("arguments") or {}
        merged_args = _merge_arguments(merged.get("arguments") or {}, own_args)
        merged.update({k: v for k, v in spec.items() if k not in ("workflowTemplateRef", "arguments")})
        merged["arguments"] = merged_args
        spec = wf["spec"] = merged
        meta = wf.setdefault("metadata", {})
        if not meta.get("name") and not meta.get("generateName"):
            meta["generateName"] = f"{name}-"
    _import_template_refs(spec, Path(templates_dir) if templates_dir else None)
    defaults = spec.pop("templateDefaults", None)
    if defaults:
        spec["templates"] = [_with_defaults(defaults, t) for t in spec.get("templates") or []]
    _validate(spec)
    return wf


def _import_template_refs(spec: dict[str, Any], templates_dir: Path | None) -> None:
    """Resolve every ``templateRef`` as Argo does (``templateresolution``): the template named in the
    WorkflowTemplate ``templateRef.name``, whose own ``template:`` references resolve in that
    WorkflowTemplate. Each is copied into this workflow as ``<WorkflowTemplate>/<template>`` (a name no
    Argo template can have) and the reference becomes a plain ``template:``."""
    templates: list[dict[str, Any]] = spec.setdefault("templates", [])
    imported: dict[tuple[str, str], str] = {}

    def resolve(owner: str | None, holder: dict[str, Any], where: str) -> None:
        ref = holder.get("templateRef")
        if isinstance(ref, Mapping):
            holder.pop("templateRef")
            holder["template"] = import_(str(ref.get("name") or ""), str(ref.get("template") or ""), where)
        elif owner is not None and holder.get("template"):
            holder["template"] = import_(owner, str(holder["template"]), where)

    def import_(owner: str, name: str, where: str) -> str:
        if (owner, name) in imported:
            return imported[(owner, name)]
        if not owner or not name:
            raise WorkflowError(f"{where}.templateRef needs name and template", "name both")
        found = find_template(owner, templates_dir)
        by_name = {t.get("name"): t for t in (found.get("spec") or {}).get("templates") or []}
        if name not in by_name:
            raise WorkflowError(
                f"{where}.templateRef: WorkflowTemplate {owner!r} has no template {name!r}", "fix the name"
            )
        local = imported[(owner, name)] = f"{owner}/{name}"
        copy_ = copy.deepcopy(by_name[name])
        copy_["name"] = local
        templates.append(copy_)
        walk(owner, copy_, f"WorkflowTemplate {owner}.{name}")
        return local

    def walk(owner: str | None, tmpl: dict[str, Any], where: str) -> None:
        tasks = list((tmpl.get("dag") or {}).get("tasks") or [])
        tasks += [t for group in tmpl.get("steps") or [] for t in group or []]
        for task in tasks:
            resolve(owner, task, where)
            for hook in (task.get("hooks") or {}).values():
                resolve(owner, hook, where)
            if owner is not None and task.get("onExit"):
                task["onExit"] = import_(owner, str(task["onExit"]), where)

    for i, tmpl in enumerate(list(templates)):
        walk(None, tmpl, f"spec.templates[{i}]")
    for hook in (spec.get("hooks") or {}).values():
        resolve(None, hook, "spec.hooks")


_KIND_KEYS = ("container", "script", "dag", "steps", "resource", "suspend", "data", "http", "plugin")


def _with_defaults(defaults: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """A template with ``spec.templateDefaults`` under it; a default for another kind of template (a
    ``container`` default under a ``dag`` template) does not apply."""
    usable = {k: v for k, v in defaults.items() if k not in _KIND_KEYS or k in template}
    return _deep_merge(usable, template)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.templateDefaults`` under a template: the template's own fields win, maps merge key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_arguments(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("parameters", "artifacts"):
        items = {p["name"]: dict(p) for p in base.get(key) or []}
        for p in own.get(key) or []:
            items[p["name"]] = {**items.get(p["name"], {}), **p}
        if items:
            out[key] = list(items.values())
    return out


def _read(doc_or_path: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(doc_or_path, Mapping):
        return dict(doc_or_path)
    path = Path(doc_or_path)
    if not path.is_file():
        raise WorkflowError(f"workflow file {path} does not exist", "check the path given with --file")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path} is not valid YAML: {exc}", "fix the YAML syntax") from None
    runnable = [d for d in docs if isinstance(d, dict) and d.get("kind") in _KINDS]
    if len(runnable) != 1:
        raise WorkflowError(
            f"{path} holds {len(runnable)} Workflow/WorkflowTemplate documents",
            "give a file with exactly one",
        )
    return runnable[0]


def find_template(name: str, templates_dir: Path | None) -> dict[str, Any]:
    """The WorkflowTemplate called ``name`` in a YAML file under ``templates_dir``."""
    if templates_dir is None or not Path(templates_dir).is_dir():
        raise WorkflowError(
            f"WorkflowTemplate {name!r} cannot be looked up: no templates directory",
            "run from the project root (manifests/) or pass --file",
        )
    for path in sorted(Path(templates_dir).rglob("*.y*ml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        for d in docs:
            if (
                isinstance(d, dict)
                and d.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate")
                and (d.get("metadata") or {}).get("name") == name
            ):
                return d
    raise WorkflowError(
        f"no WorkflowTemplate named {name!r} under {templates_dir}",
        "run `driftloop compile` or check the name",
    )


def _unsupported(path: str, what: str = "is not supported by the local executor") -> WorkflowError:
    return WorkflowError(
        f"{path} {what}", "remove it or run the workflow on Argo (`driftloop workflow submit`)"
    )


#: What an artifact's ``s3`` may say locally: its key in the configured bucket. An endpoint, a bucket or
#: credentials of its own would be silently replaced by the configured S3, so they are refused.
_S3_KEYS = {"key"}
#: Artifact sources the executor can give a pod.
_ARTIFACT_SOURCES = {"s3", "raw", "from", "fromExpression"}
_ARTIFACT_OTHER_SOURCES = {
    "http",
    "git",
    "gcs",
    "oss",
    "hdfs",
    "artifactory",
    "azure",
    "plugin",
    "huggingFace",
}


def _validate_artifact(art: Mapping[str, Any], where: str) -> None:
    for key in art:
        if key in _ARTIFACT_OTHER_SOURCES:
            raise _unsupported(
                f"{where}.{key}", "(an artifact store other than the configured S3) is not supported"
            )
    for key in art.get("s3") or {}:
        if key not in _S3_KEYS:
            raise _unsupported(
                f"{where}.s3.{key}",
                "is not supported by the local executor: artifacts live in the configured S3 bucket "
                "(give only s3.key)",
            )


def _validate_sync(sync: Any, where: str) -> None:
    """A semaphore or mutex backed by Argo's synchronization database (``database``) needs that database."""
    if not isinstance(sync, Mapping):
        return
    for kind in ("semaphore", "mutex"):
        items = list(sync.get(f"{kind}es" if kind == "mutex" else f"{kind}s") or [])
        for i, item in enumerate(items):
            if isinstance(item, Mapping) and "database" in item:
                field = f"{kind}es" if kind == "mutex" else f"{kind}s"
                raise _unsupported(
                    f"{where}.{field}[{i}].database", "(Argo's synchronization database) is not supported"
                )
        if isinstance(sync.get(kind), Mapping) and "database" in sync[kind]:
            raise _unsupported(
                f"{where}.{kind}.database", "(Argo's synchronization database) is not supported"
            )


def _validate(spec: Mapping[str, Any]) -> None:
    for key in spec:
        if key not in _SPEC:
            raise _unsupported(f"spec.{key}")
    if not spec.get("entrypoint"):
        raise WorkflowError("spec.entrypoint is missing", "name the template to start with")
    args = spec.get("arguments") or {}
    for j, par in enumerate(args.get("parameters") or []):
        for key in par.get("valueFrom") or {}:
            raise _unsupported(f"spec.arguments.parameters[{j}].valueFrom.{key}")
    for j, art in enumerate(args.get("artifacts") or []):
        _validate_artifact(art, f"spec.arguments.artifacts[{j}]")
    _validate_sync(spec.get("synchronization"), "spec.synchronization")
    names = set()
    for i, tmpl in enumerate(spec.get("templates") or []):
        where = f"spec.templates[{i}]"
        names.add(tmpl.get("name"))
        for key in tmpl:
            if key not in _TEMPLATE:
                raise _unsupported(f"{where}.{key}")
        kinds = [k for k in NODE_TYPES if k in tmpl]
        if len(kinds) != 1:
            raise WorkflowError(
                f"{where} ({tmpl.get('name')}) needs exactly one of {', '.join(NODE_TYPES)}",
                "fix the template",
            )
        kind = kinds[0]
        _validate_sync(tmpl.get("synchronization"), f"{where}.synchronization")
        if kind == "container" and not (tmpl["container"] or {}).get("command"):
            raise WorkflowError(
                f"{where}.container.command is missing ({tmpl.get('name')}): the image's own entrypoint "
                "cannot run locally",
                "give the container a command, or run the workflow on Argo (`driftloop workflow submit`)",
            )
        if kind == "suspend":
            for key in tmpl["suspend"] or {}:
                if key != "duration":
                    raise _unsupported(f"{where}.suspend.{key}")
        if kind in ("script", "container"):
            for key in tmpl[kind]:
                if key not in _CONTAINER:
                    raise _unsupported(f"{where}.{kind}.{key}")
            for j, env in enumerate(tmpl[kind].get("env") or []):
                # an optional Secret's key is what a pod without that Secret sees: the variable unset
                optional_secret = (env.get("valueFrom") or {}).get("secretKeyRef", {}).get("optional") is True
                if "valueFrom" in env and not optional_secret:
                    raise _unsupported(
                        f"{where}.{kind}.env[{j}].valueFrom",
                        "(secrets/config maps) is not supported by the local executor",
                    )
        annotations = tmpl.get("annotations")
        if annotations is not None and (
            not isinstance(annotations, Mapping) or not all(isinstance(v, str) for v in annotations.values())
        ):
            raise WorkflowError(f"{where}.annotations must map names to strings", "quote the values")
        if "podSpecPatch" in tmpl and any(w in str(tmpl["podSpecPatch"]) for w in ("command", "args", "env")):
            raise _unsupported(f"{where}.podSpecPatch", "changes the container and cannot be applied locally")
        if kind == "dag":
            for key in tmpl["dag"]:
                if key not in ("tasks", "target", "failFast"):
                    raise _unsupported(f"{where}.dag.{key}")
            for j, task in enumerate(tmpl["dag"].get("tasks") or []):
                _validate_task(task, f"{where}.dag.tasks[{j}]")
        if kind == "steps":
            for g, group in enumerate(tmpl["steps"] or []):
                for j, step in enumerate(group or []):
                    _validate_task(step, f"{where}.steps[{g}][{j}]", steps=True)
        for io in ("inputs", "outputs"):
            for j, art in enumerate((tmpl.get(io) or {}).get("artifacts") or []):
                _validate_artifact(art, f"{where}.{io}.artifacts[{j}]")
                for key in art:
                    if key not in (
                        "name",
                        "path",
                        "s3",
                        "archive",
                        "optional",
                        "from",
                        "fromExpression",
                        "raw",
                        "mode",
                        "globalName",
                        "recurseMode",
                        "archiveLogs",
                        "deleted",
                        "artifactGC",
                    ):
                        raise _unsupported(f"{where}.{io}.artifacts[{j}].{key}")
            for j, par in enumerate((tmpl.get(io) or {}).get("parameters") or []):
                for key in par.get("valueFrom") or {}:
                    if key not in ("path", "parameter", "expression", "default"):
                        raise _unsupported(f"{where}.{io}.parameters[{j}].valueFrom.{key}")
    check_volumes(spec)
    for field in ("entrypoint", "onExit"):
        if spec.get(field) and spec[field] not in names:
            raise WorkflowError(f"spec.{field}: no template named {spec[field]!r}", "fix the template name")
    _validate_hooks(spec, "spec", names)
    for i, tmpl in enumerate(spec.get("templates") or []):
        tasks = [(f"dag.tasks[{j}]", t) for j, t in enumerate((tmpl.get("dag") or {}).get("tasks") or [])]
        tasks += [
            (f"steps[{g}][{j}]", t)
            for g, group in enumerate(tmpl.get("steps") or [])
            for j, t in enumerate(group or [])
        ]
        for where, task in tasks:
            _validate_hooks(task, f"spec.templates[{i}].{where}", names)


def _validate_hooks(holder: Mapping[str, Any], where: str, names: set[Any]) -> None:
    """``onExit`` / ``hooks`` (:mod:`.hooks`): known keys, a template that exists, an expression on every
    hook but ``exit`` (Argo: "Expression required for hook")."""
    if holder.get("onExit") and holder["onExit"] not in names:
        raise WorkflowError(
            f"{where}.onExit: no template named {holder['onExit']!r}", "fix the template name"
        )
    hooks = holder.get("hooks") or {}
    if not isinstance(hooks, Mapping):
        raise WorkflowError(f"{where}.hooks must be a map of hook name to hook", "fix the hooks")
    for name, hook in hooks.items():
        at = f"{where}.hooks.{name}"
        for key in hook or {}:
            if key not in _HOOK:
                raise _unsupported(f"{at}.{key}")
        tmpl = (hook or {}).get("template")  # a templateRef is imported as a plain template by now
        if tmpl not in names:
            raise WorkflowError(f"{at}: no template named {tmpl!r}", "fix the hook's template")
        if name != "exit" and not (hook or {}).get("expression"):
            raise WorkflowError(f"{at}: a hook other than 'exit' needs an expression", "add expression: ...")


def _validate_task(task: Mapping[str, Any], where: str, steps: bool = False) -> None:
    for key in task:
        if key not in _TASK or (steps and key in ("depends", "dependencies")):
            raise _unsupported(f"{where}.{key}")
    if not task.get("template"):  # a templateRef is imported as a plain template by now
        raise WorkflowError(f"{where} ({task.get('name')}) names no template", "set 'template'")
