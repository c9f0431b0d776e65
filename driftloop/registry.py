"""The model registry on S3.

Layout under ``<prefix>/<model>/`` (prefix ``models`` by default)::

    v1/model.joblib            the model file
    v1/metadata.json           version, sha256 of model.joblib, metrics, lineage, data snapshots, records
    v1/reference_profile.bin   the monitors' reference profile of the training data
    aliases/champion.json      pointer {"version": "v1", ...} — replaced in one PUT (atomic for readers)
    aliases/canary.json
    history.json               alias changes, newest last (promote / rollback read it)

Every record here — ``metadata.json`` (with the sha256 of the model file and the records such as
``canary_deploy``), the alias pointers and ``history.json`` — carries an Ed25519 signature
(:mod:`driftloop.signing`) that is checked whenever it is read. A tampered, truncated or substituted model
file is refused, never loaded, even when its metadata was replaced too; a forged alias is refused and
logged (the model server keeps serving the last verified champion). Reading needs only the verify key;
writing needs the signing key, which the model server and the user's train step do not hold.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, IntegrityError, NotFound, UsageError
from driftloop.s3 import S3Store
from driftloop.signing import sign_record, signing_key, verify_key, verify_record

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["ALIASES", "ModelVersion", "Registry"]

log = logging.getLogger("driftloop.registry")

ALIASES = ("champion", "canary")
MODEL_FILE = "model.joblib"
PROFILE_FILE = "reference_profile.bin"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_VERSION = re.compile(r"^v(\d+)$")


def check_model_name(model: str) -> str:
    """Model names become Kubernetes label values and resource names: RFC 1123 labels."""
    if not _NAME.match(model):
        raise UsageError(
            f"model name {model!r} is not a valid name",
            "use lowercase letters, digits and '-', at most 63 characters (RFC 1123)",
        )
    return model


@dataclass
class ModelVersion:
    model: str
    version: str
    sha256: str
    metrics: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    data_snapshots: list[str] = field(default_factory=list)
    created_at: float = 0.0
    files: list[str] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    signature: str = ""

    @property
    def number(self) -> int:
        m = _VERSION.match(self.version)
        return int(m.group(1)) if m else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "sha256": self.sha256,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "data_snapshots": self.data_snapshots,
            "created_at": self.created_at,
            "files": self.files,
            "records": self.records,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Registry:
    def __init__(self, store: S3Store, prefix: str = "models") -> None:
        self.store = store
        self.prefix = prefix.strip("/")
        self._signer: Ed25519PrivateKey | None = None
        self._verifier: Ed25519PublicKey | None = None

    @property
    def signer(self) -> Ed25519PrivateKey:
        """The signing key (read once, and only by what writes)."""
        if self._signer is None:
            self._signer = signing_key(self.store.settings)
        return self._signer

    @property
    def verifier(self) -> Ed25519PublicKey:
        """The verify key (read once)."""
        if self._verifier is None:
            self._verifier = verify_key(self.store.settings)
        return self._verifier

    def _put_signed(self, kind: str, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        signed = sign_record(self.signer, kind, key, doc)
        self.store.put_json(key, signed)
        return signed

    def _get_signed(self, kind: str, key: str) -> dict[str, Any]:
        """The verified record at ``key``; NotFound when missing, IntegrityError (logged) when forged."""
        data = self.store.get_json(key)
        try:
            return verify_record(self.verifier, kind, key, data)
        except IntegrityError as exc:
            log.error("refused %s: %s", self.store.uri(key), exc)
            raise

    # --- keys -------------------------------------------------------------------------------------
    def _key(self, model: str, *parts: str) -> str:
        return "/".join([self.prefix, model, *parts])

    def uri(self, model: str, version: str, name: str = MODEL_FILE) -> str:
        return self.store.uri(self._key(model, version, name))

    # --- versions ---------------------------------------------------------------------------------
    def models(self) -> list[str]:
        names = {k[len(self.prefix) + 1 :].split("/", 1)[0] for k in self.store.list(self.prefix + "/")}
        return sorted(n for n in names if n)

    def _version_numbers(self, model: str) -> list[int]:
        nums = set()
        for key in self.store.list(self._key(model) + "/"):
            part = key.split("/")[-2]
            m = _VERSION.match(part)
            if m and key.endswith("/metadata.json"):
                nums.add(int(m.group(1)))
        return sorted(nums)

    def versions(self, model: str) -> list[ModelVersion]:
        return [self.get(model, f"v{n}") for n in self._version_numbers(model)]

    def get(self, model: str, version: str) -> ModelVersion:
        try:
            return ModelVersion.from_dict(
                self._get_signed("metadata", self._key(model, version, "metadata.json"))
            )
        except NotFound:
            raise DataError(
                f"model {model!r} has no version {version!r}",
                "`driftloop registry list " + model + "` shows its versions",
            ) from None

    def resolve(self, model: str, version_or_alias: str) -> ModelVersion:
        """A version ("v3"), an alias ("champion", "canary") or "latest"."""
        if version_or_alias in ALIASES:
            version = self.get_alias(model, version_or_alias)
            if version is None:
                raise DataError(
                    f"model {model!r} has no {version_or_alias}", "train and promote a version first"
                )
            return self.get(model, version)
        if version_or_alias == "latest":
            nums = self._version_numbers(model)
            if not nums:
                raise DataError(f"model {model!r} has no versions", "train one first")
            return self.get(model, f"v{nums[-1]}")
        return self.get(model, version_or_alias)

    def register(
        self,
        model: str,
        model_bytes: bytes,
        *,
        metrics: dict[str, Any] | None = None,
        lineage: dict[str, Any] | None = None,
        reference_profile: bytes | None = None,
        data_snapshots: list[str] | None = None,
        files: dict[str, bytes] | None = None,
    ) -> ModelVersion:
        """Store a new version (the next number). Files first, metadata last: a version exists for
        readers only once its metadata.json — which carries the sha256 — is written."""
        check_model_name(model)
        nums = self._version_numbers(model)
        version = f"v{(nums[-1] if nums else 0) + 1}"
        extra = dict(files or {})
        if reference_profile is not None:
            extra[PROFILE_FILE] = reference_profile
        self.store.put_bytes(self._key(model, version, MODEL_FILE), model_bytes)
        for name, data in extra.items():
            self.store.put_bytes(self._key(model, version, name), data)
        digest = hashlib.sha256(model_bytes).hexdigest()
        mv = ModelVersion(
            model=model,
            version=version,
            sha256=digest,
            metrics=metrics or {},
            lineage=lineage or {},
            data_snapshots=data_snapshots or [],
            created_at=time.time(),
            files=[MODEL_FILE, *sorted(extra)],
        )
        self._write_metadata(mv)
        return mv

    def _write_metadata(self, mv: ModelVersion) -> None:
        signed = self._put_signed("metadata", self._key(mv.model, mv.version, "metadata.json"), mv.to_dict())
        mv.signature = signed["signature"]

    def record(self, model: str, version: str, key: str, value: Any) -> ModelVersion:
        """Attach a record (e.g. a canary verdict) to a version's metadata."""
        mv = self.get(model, version)
        mv.records[key] = value
        self._write_metadata(mv)
        return mv

    # --- files ------------------------------------------------------------------------------------
    def put_file(self, model: str, version: str, name: str, data: bytes) -> str:
        return self.store.put_bytes(self._key(model, version, name), data)

    def get_file(self, model: str, version: str, name: str) -> bytes:
        try:
            return self.store.get_bytes(self._key(model, version, name))
        except NotFound:
            raise DataError(
                f"model {model} {version} has no file {name!r}", "was it registered with it?"
            ) from None

    def load_model_bytes(self, model: str, version: str) -> bytes:
        """The model file's bytes, after checking them against the sha256 of the signed metadata."""
        mv = self.get(model, version)
        data = self.get_file(model, version, MODEL_FILE)
        digest = hashlib.sha256(data).hexdigest()
        if digest != mv.sha256:
            raise IntegrityError(
                f"model {model} {version}: sha256 of {MODEL_FILE} is {digest[:12]}…, "
                f"registry says {mv.sha256[:12]}…",
                "the file was modified or corrupted; re-register the model, do not load it",
            )
        return data

    def load_model(self, model: str, version_or_alias: str = "champion") -> tuple[ModelVersion, Any]:
        import joblib

        mv = self.resolve(model, version_or_alias)
        return mv, joblib.load(io.BytesIO(self.load_model_bytes(model, mv.version)))

    # --- aliases ----------------------------------------------------------------------------------
    def get_alias(self, model: str, alias: str) -> str | None:
        """The version ``alias`` points to (None: no alias); IntegrityError for a forged pointer."""
        key = self._key(model, "aliases", f"{alias}.json")
        try:
            pointer = self._get_signed("alias", key)
        except NotFound:
            return None
        if pointer.get("model") != model or pointer.get("alias") != alias:
            raise IntegrityError(f"alias {key} names another model or alias", "not used")
        return str(pointer["version"]) if pointer.get("version") else None

    def _put_alias(self, model: str, alias: str, version: str, reason: str) -> None:
        key = self._key(model, "aliases", f"{alias}.json")
        doc = {
            "model": model,
            "alias": alias,
            "version": version,
            "reason": reason,
            "updated_at": time.time(),
        }
        self._put_signed("alias", key, doc)

    def aliases(self, model: str) -> dict[str, str | None]:
        return {alias: self.get_alias(model, alias) for alias in ALIASES}

    def set_alias(self, model: str, alias: str, version: str, reason: str = "") -> None:
        if alias not in ALIASES:
            raise UsageError(f"unknown alias {alias!r}", f"use one of {', '.join(ALIASES)}")
        self.load_model_bytes(model, version)  # must exist, with a file that matches its sha256 and signature
        previous = self.get_alias(model, alias)
        self._put_alias(model, alias, version, reason)
        try:
            self._append_history(model, {"alias": alias, "from": previous, "to": version, "reason": reason})
        except BaseException:
            self._restore(model, alias, previous)
            raise

    def _restore(self, model: str, alias: str, previous: str | None) -> None:
        """Put an alias back after its history could not be written: they change together or not at all."""
        if previous is None:
            self.store.delete(self._key(model, "aliases", f"{alias}.json"))
        else:
            self._put_alias(model, alias, previous, "restored: history write failed")

    def clear_alias(self, model: str, alias: str, reason: str = "") -> None:
        previous = self.get_alias(model, alias)
        if previous is None:
            return
        self.store.delete(self._key(model, "aliases", f"{alias}.json"))
        try:
            self._append_history(model, {"alias": alias, "from": previous, "to": None, "reason": reason})
        except BaseException:
            self._restore(model, alias, previous)
            raise

    def history(self, model: str) -> list[dict[str, Any]]:
        try:
            data = self._get_signed("history", self._key(model, "history.json"))
        except NotFound:
            return []
        entries = data.get("entries")
        return list(entries) if isinstance(entries, list) else []

    def _append_history(self, model: str, entry: dict[str, Any]) -> None:
        entries = self.history(model)
        entries.append({**entry, "at": time.time()})
        self._put_signed(
            "history", self._key(model, "history.json"), {"model": model, "entries": entries[-500:]}
        )

    def promote(self, model: str, version: str, reason: str = "") -> None:
        """Make ``version`` the champion; a canary of that version is retired."""
        self.set_alias(model, "champion", version, reason or "promote")
        if self.get_alias(model, "canary") == version:
            self.clear_alias(model, "canary", reason or "promoted")

    def rollback(self, model: str, reason: str = "") -> str | None:
        """Drop the canary, if any; with no canary, put the previous champion back. Returns the
        champion version afterwards."""
        if self.get_alias(model, "canary") is not None:
            self.clear_alias(model, "canary", reason or "rollback")
            return self.get_alias(model, "champion")
        current = self.get_alias(model, "champion")
        for entry in reversed(self.history(model)):
            if entry["alias"] != "champion" or str(entry.get("reason", "")).startswith("rollback"):
                continue
            if entry["to"] == current and entry["from"]:
                self.set_alias(model, "champion", entry["from"], reason or f"rollback from {current}")
                return str(entry["from"])
        raise DataError(
            f"model {model!r} has no earlier champion to roll back to", "promote a version instead"
        )
