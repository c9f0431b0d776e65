"""The reference profile: everything a drift check needs from a model's training data, built once.

It is built when a model version is trained and stored next to it (``models/<name>/<version>/``), so a
check never reloads and re-sorts the reference. Per column it keeps:

* numerical: the finite values **sorted** (what the exact Wasserstein / KS / binned Jensen-Shannon need),
  their standard deviation (Evidently's normaliser), the count of missing values;
* categorical: the category counts (what chi², Z and Jensen-Shannon need).

plus the schema (kinds, dtype families, roles) and a small joint sample of rows for the HTML report.

Serialised as ``MAGIC | u64 header length | JSON header | raw little-endian float64 arrays | parquet
sample``; no pickle, so loading a profile never executes code. The header carries a sha256 of the body.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError, IntegrityError
from driftloop.monitorspec import ColumnKind, MonitorDefinition

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnProfile", "ReferenceProfile", "build_profile", "dtype_family", "infer_kind", "json_key"]

MAGIC = b"DLPROF\x00\x01"
INTEGER_CARDINALITY_LIMIT = 10  # evidently.core.datasets: ints with <= 10 distinct values are categorical


def dtype_family(series: pd.Series) -> str:
    """A coarse dtype ("float", "int", "bool", "string", "datetime", "other") for schema comparison."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        sample = series.dropna()
        if sample.empty or isinstance(sample.iloc[0], str):
            return "string"
    return "other"


def infer_kind(series: pd.Series) -> ColumnKind | None:
    """Evidently's new-API inference (``evidently.core.datasets.infer_column_type``) restricted to the
    kinds a drift check handles; ``None`` for text, datetimes and anything else."""
    family = dtype_family(series)
    if family == "float":
        return "numerical"
    if family == "int":
        return "categorical" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "numerical"
    if family == "bool":
        return "categorical"
    if family == "string":
        return "categorical"
    return None


@dataclass
class ColumnProfile:
    """One reference column. ``values`` (sorted finite floats) for numerical, ``counts`` for categorical."""

    name: str
    kind: ColumnKind
    role: str
    family: str
    rows: int  # non-missing rows (what Evidently's stattests see)
    missing: int
    values: np.ndarray | None = None
    std: float | None = None
    counts: dict[Any, int] = field(default_factory=dict)

    @property
    def nunique(self) -> int:
        if self.kind == "categorical":
            return len(self.counts)
        assert self.values is not None
        v = self.values
        return int(np.count_nonzero(v[1:] != v[:-1])) + 1 if v.size else 0

    def unique_values(self) -> np.ndarray:
        """Distinct reference values (numerical only; the array is sorted so this is one pass)."""
        assert self.values is not None
        v = self.values
        return v[np.concatenate(([True], v[1:] != v[:-1]))] if v.size else v

    def as_series(self) -> pd.Series:
        """The reference column rebuilt (values in sorted / grouped order) for Evidently's stattests."""
        import pandas as pd

        if self.kind == "numerical":
            return pd.Series(self.values, name=self.name)
        keys = list(self.counts)
        data = np.repeat(np.array(keys, dtype=object), [self.counts[k] for k in keys])
        return pd.Series(data, name=self.name, dtype=object)


@dataclass
class ReferenceProfile:
    """A model version's reference data, reduced to what checks need. Build with :func:`build_profile`."""

    model: str
    model_version: str
    rows: int
    columns: dict[str, ColumnProfile]
    definition: MonitorDefinition
    created_at: str
    # The report's joint sample (Parquet), parsed only when a report needs it; a view of the serialised
    # profile when loaded with from_bytes.
    sample_parquet: bytes | memoryview | None = None

    @property
    def sample(self) -> pd.DataFrame | None:
        """The reference sample for the HTML report (parsing Parquet loads pyarrow: only on demand)."""
        if self.sample_parquet is None:
            return None
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self.sample_parquet))

    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """A short stable hash of the reference content (changes when the reference data changes).
        Computed once (hashing a large reference takes a while) and carried in the serialised header."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(f"{self.model}\x1f{self.model_version}\x1f{self.rows}".encode())
        for name in sorted(self.columns):
            col = self.columns[name]
            h.update(f"\x1e{name}\x1f{col.kind}\x1f{col.missing}".encode())
            if col.values is not None:
                h.update(np.ascontiguousarray(col.values).tobytes())
            else:
                h.update(
                    json.dumps(sorted(col.counts.items(), key=lambda kv: repr(kv[0])), default=str).encode()
                )
        return h.hexdigest()[:16]

    def to_bytes(self) -> bytes:
        arrays: list[bytes] = []
        offset = 0
        cols = []
        for col in self.columns.values():
            entry: dict[str, Any] = {
                "name": col.name,
                "kind": col.kind,
                "role": col.role,
                "family": col.family,
                "rows": col.rows,
                "missing": col.missing,
            }
            if col.values is not None:
                raw = np.ascontiguousarray(col.values, dtype="<f8").tobytes()
                entry.update(offset=offset, length=len(raw), std=col.std)
                arrays.append(raw)
                offset += len(raw)
            else:
                entry["counts"] = [[json_key(k), int(v)] for k, v in col.counts.items()]
            cols.append(entry)
        sample = self.sample_parquet or b""
        body = b"".join(arrays) + sample
        header = {
            "format": 1,
            "model": self.model,
            "model_version": self.model_version,
            "rows": self.rows,
            "created_at": self.created_at,
            "definition": self.definition.model_dump(mode="json"),
            "columns": cols,
            "arrays_length": offset,
            "sample_length": len(sample),
            "sha256": hashlib.sha256(body).hexdigest(),
            "fingerprint": self.fingerprint,
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        return MAGIC + struct.pack("<Q", len(head)) + head + body

    @classmethod
    def from_bytes(cls, raw: bytes) -> ReferenceProfile:
        """Load a profile; the numeric arrays are zero-copy views of ``raw``."""
        if raw[: len(MAGIC)] != MAGIC:
            raise DataError("not a driftloop reference profile", "build one with monitors.build_profile")
        try:
            (hlen,) = struct.unpack_from("<Q", raw, len(MAGIC))
            start = len(MAGIC) + 8
            header = json.loads(raw[start : start + hlen])
        except (struct.error, ValueError) as exc:
            raise DataError(f"reference profile header is corrupt: {exc}", "rebuild the profile") from None
        body = memoryview(raw)[start + hlen :]
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            raise IntegrityError("reference profile checksum mismatch", "rebuild or re-upload the profile")
        columns: dict[str, ColumnProfile] = {}
        for c in header["columns"]:
            col = ColumnProfile(c["name"], c["kind"], c["role"], c["family"], c["rows"], c["missing"])
            if "offset" in c:
                col.values = np.frombuffer(body, dtype="<f8", count=c["length"] // 8, offset=c["offset"])
                col.std = c["std"]
            else:
                col.counts = {_from_json_key(k): v for k, v in c["counts"]}
            columns[col.name] = col
        sample = None
        if header["sample_length"]:
            a = header["arrays_length"]
            sample = body[a : a + header["sample_length"]]  # zero-copy, like the arrays
        return cls(
            model=header["model"],
            model_version=header["model_version"],
            rows=header["rows"],
            columns=columns,
            definition=MonitorDefinition.model_validate(header["definition"]),
            created_at=header["created_at"],
            sample_parquet=sample,
            _fingerprint=header.get("fingerprint"),
        )


def json_key(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _from_json_key(value: Any) -> Any:
    return value


def build_profile(
    reference: pd.DataFrame,
    definition: MonitorDefinition,
    model_version: str = "unversioned",
    sample_rows: int | None = None,
) -> ReferenceProfile:
    """Reduce a reference DataFrame to a :class:`ReferenceProfile`.

    Raises :class:`DataError` when the reference cannot serve as one (empty, a monitored column missing,
    all-missing or of a kind that cannot be checked).
    """
    if reference.empty:
        raise DataError("the reference data set is empty", "pass the data the model was trained on")
    names = _monitored(reference, definition)
    columns: dict[str, ColumnProfile] = {}
    for name in names:
        columns[name] = _column_profile(reference[name], definition.spec(name).kind, definition.role(name))
    n = sample_rows or definition.report_sample_rows
    sample = reference[names].sample(n=min(n, len(reference)), random_state=0).reset_index(drop=True)
    buf = io.BytesIO()
    sample.to_parquet(buf, index=False)
    return ReferenceProfile(
        model=definition.model,
        model_version=model_version,
        rows=len(reference),
        columns=columns,
        definition=definition,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        sample_parquet=buf.getvalue(),
    )


def _monitored(reference: pd.DataFrame, definition: MonitorDefinition) -> list[str]:
    if definition.features is not None:
        names = [c.name for c in definition.features]
    else:
        skip = {definition.target, definition.prediction, *definition.ignore_columns}
        names = [str(c) for c in reference.columns if c not in skip]
    names += [c for c in (definition.target, definition.prediction) if c]
    missing = [n for n in names if n not in reference.columns]
    if missing:
        raise DataError(
            f"reference lacks monitored columns {missing}", "fix the monitor definition or the data"
        )
    if not names:
        raise DataError("no columns to monitor", "list features in the monitor definition")
    return names


def _column_profile(series: pd.Series, kind: ColumnKind | None, role: str) -> ColumnProfile:
    import pandas as pd

    name = str(series.name)
    family = dtype_family(series)
    kind = kind or infer_kind(series)
    if kind is None:
        raise DataError(
            f"reference column {name!r} has dtype {series.dtype} that cannot be monitored",
            "declare its kind in the monitor definition or list it in ignore_columns",
        )
    if kind == "numerical":
        if not pd.api.types.is_numeric_dtype(series) or family == "bool":
            raise DataError(f"reference column {name!r} is declared numerical but holds {series.dtype}")
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            raise DataError(f"reference column {name!r} has no values", "drop it from the monitored features")
        finite.sort()
        return ColumnProfile(
            name,
            kind,
            role,
            family,
            rows=int(finite.size),
            missing=int(arr.size - finite.size),
            values=finite,
            std=float(np.std(finite)),
        )
    clean = series.replace([-np.inf, np.inf], np.nan).dropna() if family == "float" else series.dropna()
    if clean.empty:
        raise DataError(f"reference column {name!r} has no values", "drop it from the monitored features")
    counts = {(json_key(k)): int(v) for k, v in clean.value_counts(sort=False).items()}
    return ColumnProfile(
        name, kind, role, family, rows=int(clean.size), missing=int(series.size - clean.size), counts=counts
    )
