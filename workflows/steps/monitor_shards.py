"""The monitor template's fan-out steps: which models to check, and the sharded check of one model's
Parquet window — plan, summarise each shard (one pod each), merge.

The pods share nothing but the object store: the plan step writes the window's shards (and the champion
version it planned for) under a run-specific prefix, :func:`summary_prefix`; each shard's pod writes its
:class:`~monitors.shard.WindowSummary` there in :mod:`monitors.codec`'s format (no pickle: loading one
executes no code); the merge step reads them all, computes the same result as the single-process check
(:func:`monitors.sharded.finish`), publishes the same CloudEvent and report, and removes the prefix.

An inference-log window (``kafka``) and a CSV table are checked in one pod, as before
(:func:`workflows.steps.monitor.check`): the plan says ``single``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, NotFound, UsageError

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from monitors.profile import ReferenceProfile
    from monitors.signals import PerformanceContext

__all__ = ["MODES", "merge", "models", "plan", "summarize", "summary_prefix"]

#: What the plan step says a model's window needs: shards and a merge, or one pod.
MODES = ("sharded", "single")


def summary_prefix(run: str, model: str) -> str:
    """Where one run's shard summaries of ``model`` live in the bucket (``run``: the workflow's name)."""
    return f"monitor-runs/{run}/{model}/"


def models(settings: Settings, model: str = "") -> list[str]:
    """``[model]``, or with ``model == ""`` every registered model with a champion (in name order)."""
    if model:
        return [model]
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    registry = Registry(S3Store(settings))
    return sorted(m for m in registry.models() if registry.get_alias(m, "champion"))


def plan(settings: Settings, model: str, current: str, shards: str, run: str) -> dict[str, Any]:
    """Decide how ``model``'s window is checked: ``{"mode": "single", "shards": []}`` for an inference-log
    or CSV window; for a Parquet window (a file, a directory or an ``s3://`` prefix of files) its shards
    (``shards``: how many, empty = one per :data:`monitors.shards.SHARD_ROWS` rows) written to the store,
    and ``{"mode": "sharded", "shards": [0, 1, ...]}``."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from monitors.shards import is_parquet, parquet_files, shard_count
    from monitors.shards import plan as plan_shards

    if current == "kafka" or current.startswith("kafka://") or not is_parquet(current):
        return {"mode": "single", "shards": []}
    count = _count(shards)
    files = parquet_files(current, settings)
    planned = plan_shards(files, count or shard_count(files, settings), settings)
    store = S3Store(settings)
    version = Registry(store).resolve(model, "champion").version
    doc = {"model": model, "current": current, "version": version, "shards": [s.to_dict() for s in planned]}
    store.put_json(summary_prefix(run, model) + "plan.json", doc)
    return {"mode": "sharded", "shards": [s.index for s in planned]}


def _count(shards: str) -> int:
    text = str(shards).strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) < 1:
        raise UsageError(
            f"shards={text!r} is not a positive number", "pass shards=N (N >= 1) or leave it empty"
        )
    return int(text)


def summarize(settings: Settings, model: str, shard: int, run: str) -> dict[str, Any]:
    """Summarise shard number ``shard`` of the plan and store its summary; its rows and bytes."""
    from driftloop.s3 import S3Store
    from monitors.codec import encode
    from monitors.sharded import summarize_shard
    from monitors.shards import Shard

    store = S3Store(settings)
    doc = _plan(store, run, model)
    by_index = {int(s["index"]): s for s in doc["shards"]}
    if shard not in by_index:
        raise UsageError(f"{model}: the plan has no shard {shard}", f"pass one of {sorted(by_index)}")
    profile, performance = _champion(settings, store, model, doc["version"])
    summary = summarize_shard(
        profile, profile.definition, Shard.from_dict(by_index[shard]), settings, performance=performance
    )
    raw = encode(summary)
    store.put_bytes(f"{summary_prefix(run, model)}shard-{shard:05d}.bin", raw)
    return {"model": model, "shard": shard, "rows": summary.rows, "bytes": len(raw)}


def merge(settings: Settings, model: str, run: str, publish: bool = True) -> dict[str, Any]:
    """Merge the shards' summaries into the window's result; publish its event (and report) unless
    ``publish`` is false; remove the run's summaries. Raises DataError for a window that failed its
    data-quality checks (its event is still published), as the single-process check does."""
    from driftloop.s3 import S3Store
    from monitors.check import WindowInfo
    from monitors.codec import decode
    from monitors.publish import publish_result
    from monitors.sample import KEY
    from monitors.sharded import finish
    from monitors.sharded import merge as merge_summaries

    store = S3Store(settings)
    doc = _plan(store, run, model)
    prefix = summary_prefix(run, model)
    parts = []
    for s in doc["shards"]:
        key = f"{prefix}shard-{int(s['index']):05d}.bin"
        try:
            parts.append(decode(store.get_bytes(key)))
        except NotFound:
            raise DataError(
                f"{model}: shard {s['index']} left no summary ({key})", "re-run the run"
            ) from None
    profile, performance = _champion(settings, store, model, doc["version"])
    summary = merge_summaries(parts)
    result = finish(
        profile, summary, profile.definition, info=WindowInfo(source=doc["current"]), performance=performance
    )
    sample = None if summary.sample is None else summary.sample.drop(columns=[KEY])
    out = publish_result(settings, profile, result, sample, publish=publish)
    for key in store.list(prefix):
        store.delete(key)
    out.raise_on_quality()
    return {
        "status": result.status,
        "event_id": out.event.id,
        "drift_share": result.drift_share,
        "signals": ",".join(result.signals),
        "rows": summary.rows,
        "shards": len(parts),
    }


def _plan(store: S3Store, run: str, model: str) -> dict[str, Any]:
    key = summary_prefix(run, model) + "plan.json"
    try:
        return dict(store.get_json(key))
    except NotFound:
        raise DataError(
            f"{model}: no shard plan at {key}", "run the plan step of the same run first"
        ) from None


def _champion(
    settings: Settings, store: S3Store, model: str, version: str
) -> tuple[ReferenceProfile, PerformanceContext | None]:
    """The champion's profile and performance context — the version the plan was made for (a promotion
    during the run would mix two references' bins: DataError, the next run checks the new champion)."""
    from driftloop.registry import Registry
    from monitors.publish import champion_performance, champion_profile

    registry: Registry = Registry(store)
    profile = champion_profile(settings, model, registry)
    if profile.model_version != version:
        raise DataError(
            f"{model}: the champion changed from {version} to {profile.model_version} during the check",
            "the next run checks the new champion",
        )
    return profile, champion_performance(settings, model, registry)
