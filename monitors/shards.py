"""Cutting a Parquet window into shards, and reading one shard in batches.

A window is one Parquet file or a directory / ``s3://`` prefix of them (read in name order). Its shards
are runs of consecutive row groups balanced by rows (the footers say how many each holds, so planning
reads no data); a shard knows the window position of its first row, which the multivariate sample's keys
need. A shard is read a batch at a time (:data:`BATCH_ROWS`) and a row group at a time, so its memory
is one batch and one row group's column chunks whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.fs as pafs

    from driftloop.config import Settings

__all__ = [
    "BATCH_ROWS",
    "SHARD_ROWS",
    "Shard",
    "is_parquet",
    "parquet_files",
    "plan",
    "read_shard",
    "shard_count",
]

BATCH_ROWS = 1 << 18
#: ``driftloop monitor run`` without ``--shards`` shards a Parquet window past this many rows per shard.
SHARD_ROWS = 5_000_000


@dataclass(frozen=True)
class Shard:
    """Row groups of the window's files (``[path, [group, ...]]``) and the window row it starts at."""

    index: int
    parts: list[tuple[str, list[int]]]
    start: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "parts": [[p, g] for p, g in self.parts],
            "start": self.start,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Shard:
        return cls(
            int(doc["index"]),
            [(str(p), [int(g) for g in gs]) for p, gs in doc["parts"]],
            int(doc["start"]),
            int(doc["rows"]),
        )


def is_parquet(uri: str) -> bool:
    """A window a sharded check can read: a Parquet file, or a directory / prefix (``…/``) of them."""
    from pathlib import Path

    if uri.startswith("s3://"):
        return uri.endswith("/") or uri.lower().endswith((".parquet", ".pq"))
    return Path(uri).is_dir() or uri.lower().endswith((".parquet", ".pq"))


def _filesystem(uri: str, settings: Settings | None) -> tuple[pafs.FileSystem, str]:
    import pyarrow.fs as pafs

    if not uri.startswith("s3://"):
        return pafs.LocalFileSystem(), uri
    if settings is None:
        raise UsageError(f"{uri}: reading from S3 needs settings")
    endpoint = settings.s3_endpoint
    scheme, _, host = endpoint.partition("://")
    from driftloop.s3 import credentials

    access_key, secret_key = credentials(settings)
    fs = pafs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=settings.s3.region,
        endpoint_override=host or endpoint,
        scheme=scheme if host else "https",
    )
    return fs, uri.removeprefix("s3://")


def parquet_files(uri: str, settings: Settings | None = None) -> list[str]:
    """The window's Parquet files as ``uri``-style paths, in name order (UsageError: none)."""
    import pyarrow.fs as pafs

    fs, path = _filesystem(uri, settings)
    try:
        info = fs.get_file_info(path.rstrip("/"))
        if info.type == pafs.FileType.File:
            names = [path]
        elif info.type == pafs.FileType.Directory:
            found = fs.get_file_info(pafs.FileSelector(path.rstrip("/"), recursive=True))
            names = sorted(
                f.path
                for f in found
                if f.type == pafs.FileType.File and f.path.lower().endswith((".parquet", ".pq"))
            )
        else:
            names = []
    except OSError as exc:
        raise DataError(f"cannot list {uri}: {exc}", "check the path, bucket and credentials") from None
    if not names:
        raise UsageError(
            f"{uri}: no Parquet file there", "pass a .parquet file or a directory / prefix of them"
        )
    prefix = "s3://" if uri.startswith("s3://") else ""
    return [prefix + n for n in names]


def _row_groups(path: str, settings: Settings | None) -> list[int]:
    import pyarrow.parquet as pq

    fs, p = _filesystem(path, settings)
    try:
        meta = pq.ParquetFile(p, filesystem=fs).metadata
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}", "pass valid Parquet files") from None
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def shard_count(files: list[str], settings: Settings | None = None) -> int:
    """How many shards a window of ``files`` gets without ``--shards``: one per :data:`SHARD_ROWS` rows."""
    rows = sum(sum(_row_groups(f, settings)) for f in files)
    return max(1, -(-rows // SHARD_ROWS))


def plan(files: list[str], shards: int, settings: Settings | None = None) -> list[Shard]:
    """Cut the window into at most ``shards`` runs of consecutive row groups of about equal rows."""
    groups = [(f, i, n) for f in files for i, n in enumerate(_row_groups(f, settings))]
    total = sum(n for _, _, n in groups)
    target = max(1, -(-total // max(1, shards)))
    out: list[Shard] = []
    current: list[tuple[str, int, int]] = []
    start = 0
    for group in groups:
        current.append(group)
        rows = sum(n for _, _, n in current)
        if rows >= target and len(out) < shards - 1:
            out.append(_shard(len(out), current, start))
            start += rows
            current = []
    if current or not out:
        out.append(_shard(len(out), current, start))
    return out


def _shard(index: int, groups: list[tuple[str, int, int]], start: int) -> Shard:
    parts: dict[str, list[int]] = {}
    for f, i, _ in groups:
        parts.setdefault(f, []).append(i)
    return Shard(index, list(parts.items()), start, sum(n for _, _, n in groups))


def read_shard(
    shard: Shard, settings: Settings | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[pd.DataFrame, int]]:
    """The shard's rows as DataFrames of at most ``batch_rows`` rows, each with its first row's window
    position."""
    import pyarrow.parquet as pq

    at = shard.start
    for path, row_groups in shard.parts:
        fs, p = _filesystem(path, settings)
        try:
            reader = pq.ParquetFile(p, filesystem=fs)
            # one row group at a time: given them all, the reader buffers every one of them first, so its
            # memory grows with the file (a 3M-row file: 1.06 GB peak instead of 0.63 GB)
            for group in row_groups:
                for batch in reader.iter_batches(batch_size=batch_rows, row_groups=[group]):
                    frame = batch.to_pandas()
                    yield frame, at
                    at += len(frame)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {path}: {exc}", "pass valid Parquet files") from None
