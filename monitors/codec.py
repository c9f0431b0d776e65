"""Bytes for the partial results a sharded check passes between processes and pods — without pickle.

A summary travels through the object store from a shard's pod to the merge's, so loading one must never
execute code: the encoding is a JSON document (dataclasses by a registered name, dicts as key/value
pairs so that number and boolean keys survive) with every numpy array in an ``.npz`` beside it (read with
``allow_pickle=False``) and every DataFrame as Parquet.
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import zipfile
from typing import Any

import numpy as np

from driftloop.errors import DataError

__all__ = ["decode", "encode", "register"]

MAGIC = b"DLSUM\x00\x01\x00"
_TYPES: dict[str, type] = {}


def register(*classes: type) -> None:
    """Make dataclasses encodable (by class name: names must be unique)."""
    for cls in classes:
        _TYPES[cls.__name__] = cls


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.frames: list[bytes] = []

    def walk(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"__array__": key}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if _TYPES.get(name) is not type(value):
                raise TypeError(f"{name} is not registered with monitors.codec")
            fields = {f.name: self.walk(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return {"__type__": name, "fields": fields}
        if isinstance(value, dict):
            return {"__pairs__": [[self.walk(k), self.walk(v)] for k, v in value.items()]}
        if isinstance(value, set | frozenset):
            return {"__set__": [self.walk(v) for v in sorted(value, key=repr)]}
        if isinstance(value, list | tuple):
            return [self.walk(v) for v in value]
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            buf = io.BytesIO()
            value.to_parquet(buf, index=False)
            self.frames.append(buf.getvalue())
            return {"__frame__": len(self.frames) - 1}
        raise TypeError(f"cannot encode {type(value).__name__}")


def encode(value: Any) -> bytes:
    """``MAGIC | u64 JSON length | JSON | u64 npz length | npz | (u64 length | Parquet)*``."""
    enc = _Encoder()
    doc = json.dumps(enc.walk(value), separators=(",", ":")).encode()
    arrays = io.BytesIO()
    np.savez_compressed(arrays, **enc.arrays)  # type: ignore[arg-type]
    parts = [MAGIC, struct.pack("<Q", len(doc)), doc, struct.pack("<Q", arrays.tell()), arrays.getvalue()]
    for frame in enc.frames:
        parts += [struct.pack("<Q", len(frame)), frame]
    return b"".join(parts)


def decode(raw: bytes) -> Any:
    """The value :func:`encode` wrote (DataError: not one, or damaged)."""
    if raw[: len(MAGIC)] != MAGIC:
        raise DataError("not a driftloop shard summary", "re-run the shard that wrote it")
    try:
        at = len(MAGIC)
        (n,) = struct.unpack_from("<Q", raw, at)
        doc = json.loads(raw[at + 8 : at + 8 + n])
        at += 8 + n
        (n,) = struct.unpack_from("<Q", raw, at)
        with np.load(io.BytesIO(raw[at + 8 : at + 8 + n]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        at += 8 + n
        frames = []
        while at < len(raw):
            (n,) = struct.unpack_from("<Q", raw, at)
            frames.append(raw[at + 8 : at + 8 + n])
            at += 8 + n
    except (struct.error, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"shard summary is damaged: {exc}", "re-run the shard that wrote it") from None
    return _Decoder(arrays, frames).walk(doc)


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], frames: list[bytes]) -> None:
        self.arrays, self.frames = arrays, frames

    def walk(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            return self.arrays[value["__array__"]]
        if "__pairs__" in value:
            return {_key(self.walk(k)): self.walk(v) for k, v in value["__pairs__"]}
        if "__set__" in value:
            return {_key(self.walk(v)) for v in value["__set__"]}
        if "__frame__" in value:
            import pandas as pd

            return pd.read_parquet(io.BytesIO(self.frames[value["__frame__"]]))
        cls = _TYPES.get(value.get("__type__", ""))
        if cls is None:
            raise DataError(
                f"shard summary holds an unknown type {value.get('__type__')!r}", "upgrade driftloop"
            )
        return cls(**{k: self.walk(v) for k, v in value["fields"].items()})


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
