"""register: check what ``evaluate`` reported, recompute the gate, register a challenger that passes.

This step runs in driftloop's own image and is the only retrain step before the canary that holds the
signing key, so it never unpickles anything the user's code produced: the challenger's bytes are checked
against the sha256 the train step reported (an Argo output parameter, not a bucket object) and stored as
they are; the estimator ``evaluate`` fitted is sealed as bytes; the reference profile is built here from
the train snapshot (data). ``evaluate``'s scores are the one thing taken on its word — re-scoring would
run the user's code — but its verdict is not: the gate is recomputed from the scores with the run's own
parameters, and the champion it scored must be the registry's (verified) champion.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, DriftloopError, IntegrityError
from driftloop.modelspec import TASK_METRICS
from workflows.steps.context import code_version, read_table, update_run_record
from workflows.steps.evaluate import GateDecision, challenger_bytes, gate

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry

__all__ = ["RefusedScoresError", "check_scores", "register"]

log = logging.getLogger("driftloop.workflows")


class RefusedScoresError(IntegrityError):
    """``evaluate``'s outputs cannot be used. Exit 2: a retry of register would read the same files."""

    exit_code = 2


_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _metric_map(value: Any, task: str, what: str) -> dict[str, float]:
    names = TASK_METRICS[task]
    if not isinstance(value, dict) or set(value) != set(names):
        raise RefusedScoresError(
            f"evaluate's {what} scores are not the metrics of a {task} model: {value!r:.200}",
            "the scores file was not written by evaluate; re-run the workflow",
        )
    out = {}
    for name in names:
        v = value[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RefusedScoresError(
                f"evaluate's {what} {name} is not a number: {v!r:.50}", "re-run the workflow"
            )
        out[name] = float(v)
    return out


def check_scores(raw: bytes, task: str) -> dict[str, Any]:
    """``evaluate``'s scores file, parsed and checked for shape; IntegrityError when it is not one."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RefusedScoresError("evaluate's scores file is not JSON", "re-run the workflow") from None
    if not isinstance(doc, dict):
        raise RefusedScoresError("evaluate's scores file is not a JSON object", "re-run the workflow")
    champion = doc.get("champion")
    champion_version = doc.get("champion_version") or ""
    klass = doc.get("estimator_class", "")
    rows = doc.get("holdout_rows")
    if (
        not isinstance(champion_version, str)
        or not isinstance(klass, str)
        or not _CLASS_NAME.fullmatch(klass)
    ):
        raise RefusedScoresError(
            "evaluate's scores file names no valid champion/estimator", "re-run the workflow"
        )
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise RefusedScoresError(
            f"evaluate's holdout_rows {rows!r:.50} is not a count", "re-run the workflow"
        )
    return {
        "challenger": _metric_map(doc.get("challenger"), task, "challenger"),
        "champion": None if champion is None else _metric_map(champion, task, "champion"),
        "champion_version": champion_version,
        "estimator_class": klass,
        "holdout_rows": rows,
        "claimed_verdict": doc.get("verdict"),
    }


def _existing(registry: Registry, model: str, workflow_uid: str) -> str | None:
    """The version this run already registered (a retried register must not register twice)."""
    if not workflow_uid:
        return None
    for mv in registry.versions(model):
        if mv.lineage.get("workflow_uid") == workflow_uid:
            return mv.version
    return None


def register(
    settings: Settings,
    *,
    model: str,
    model_file: Path,
    model_sha256: str = "",
    scores_file: Path,
    estimator_file: Path,
    train_uri: str,
    holdout_uri: str,
    metrics_path: Path,
    profile_path: Path,
    task: str,
    target: str,
    primary_metric: str,
    gate_margin: float,
    min_score: float | None,
    monitor: dict[str, Any] | None = None,
    reason: str = "manual",
    event_id: str = "",
    report_uri: str = "",
    dataset_uri: str = "",
    workflow_name: str = "",
    workflow_uid: str = "",
) -> dict[str, Any]:
    """Recompute the gate from ``scores_file``; register the challenger when it passes. Writes
    ``metrics_path`` always and ``profile_path`` when registered. Returns verdict, version and the scores."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.signing import seal
    from monitors import MonitorDefinition, build_profile
    from monitors.performance import ESTIMATOR_FILE

    if primary_metric not in TASK_METRICS.get(task, ()):
        raise DataError(
            f"primary_metric {primary_metric!r} does not fit task {task}",
            f"use one of {', '.join(TASK_METRICS.get(task, ()))}",
        )
    model_bytes = challenger_bytes(Path(model_file), model_sha256)  # never unpickled here
    scores = check_scores(Path(scores_file).read_bytes(), task)
    registry = Registry(S3Store(settings))
    champion_version = registry.get_alias(model, "champion") or ""
    if scores["champion_version"] != champion_version:
        raise RefusedScoresError(
            f"evaluate scored champion {scores['champion_version'] or '(none)'} but the registry's champion "
            f"of {model} is {champion_version or '(none)'}",
            "the champion changed during the run; re-run it",
        )
    champion_scores = scores["champion"] if champion_version else None
    decision = gate(
        scores["challenger"][primary_metric],
        champion_scores[primary_metric] if champion_scores else None,
        metric=primary_metric,
        margin=float(gate_margin),
        min_score=min_score,
    )
    if scores["claimed_verdict"] != decision.verdict:
        log.warning(
            "evaluate said %s; the recomputed gate says %s", scores["claimed_verdict"], decision.verdict
        )
    log.info("gate %s: %s", decision.verdict, decision.reason)
    version = ""
    if decision.passed:
        definition = MonitorDefinition(model=model, target=target, **(monitor or {}))
        estimator = Path(estimator_file).read_bytes()
        version = _existing(registry, model, workflow_uid) or _register(
            registry,
            model,
            model_bytes,
            train_uri,
            holdout_uri,
            profile_path,
            target,
            scores["challenger"],
            champion_version or None,
            champion_scores,
            decision,
            lineage={
                "workflow_name": workflow_name,
                "workflow_uid": workflow_uid,
                "event_id": event_id,
                "reason": reason,
                "report_uri": report_uri,
                "dataset_uri": dataset_uri,
                "code_version": code_version(),
                "task": task,
                "estimator": scores["estimator_class"],
            },
            build=lambda df, v: build_profile(df, definition, model_version=v).to_bytes(),
            files={ESTIMATOR_FILE: seal(registry.signer, estimator)} if estimator else None,
        )
    result = {
        "verdict": decision.verdict,
        "version": version,
        "champion_version": champion_version,
        "challenger": scores["challenger"],
        "champion": champion_scores,
        "gate": decision.to_dict(),
        "holdout_rows": scores["holdout_rows"],
    }
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(result, indent=2, sort_keys=True))
    try:
        update_run_record(
            settings, model, workflow_name, evaluate=result, verdict=decision.verdict, version=version
        )
    except DriftloopError as exc:  # the record only feeds the outcome event; the gate result stands
        log.warning("cannot update the run record: %s", exc)
    return result


def _register(
    registry: Registry,
    model: str,
    model_bytes: bytes,
    train_uri: str,
    holdout_uri: str,
    profile_path: Path,
    target: str,
    scores: dict[str, float],
    champion_version: str | None,
    champion_scores: dict[str, float] | None,
    decision: GateDecision,
    *,
    lineage: dict[str, Any],
    build: Any,
    files: dict[str, bytes] | None = None,
) -> str:
    settings = registry.store.settings
    numbers = [mv.number for mv in registry.versions(model)]
    expected = f"v{(max(numbers) if numbers else 0) + 1}"
    profile = build(read_table(settings, train_uri), expected)
    Path(profile_path).parent.mkdir(parents=True, exist_ok=True)
    Path(profile_path).write_bytes(profile)
    mv = registry.register(
        model,
        model_bytes,
        metrics={
            "holdout": scores,
            "primary_metric": decision.metric,
            "champion_holdout": champion_scores,
            "champion_version": champion_version,
        },
        lineage={**lineage, "target": target, "gate": decision.to_dict()},
        reference_profile=profile,
        data_snapshots=[train_uri, holdout_uri],
        files=files,
    )
    if mv.version != expected:  # cannot happen under the model's mutex; keep the profile's version right
        profile = build(read_table(settings, train_uri), mv.version)
        registry.put_file(model, mv.version, "reference_profile.bin", profile)
        Path(profile_path).write_bytes(profile)
    return mv.version
