"""``driftloop registry resign``: sign a registry written before its records were signed.

Signing an existing record vouches for it, so this trusts what the bucket holds now — run it once, on a
bucket nobody else could have written. A version is signed only while its model file still matches the
sha256 its metadata records; an alias only when it points to a signed version; a record that is already
signed correctly is left as it is. Sensor submissions are not signed here: an open one from before is
refused at start-up, never run (the sensor submits a new run for the next event).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from driftloop.errors import IntegrityError, NotFound
from driftloop.registry import ALIASES, MODEL_FILE, Registry
from driftloop.signing import sign_record, verify_record

__all__ = ["ResignReport", "resign"]


@dataclass
class ResignReport:
    signed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _valid(registry: Registry, kind: str, key: str, doc: Any) -> bool:
    try:
        verify_record(registry.verifier, kind, key, doc)
    except IntegrityError:
        return False
    return True


def _unsigned(registry: Registry, report: ResignReport, kind: str, key: str) -> Any:
    """The record at ``key`` when it exists and is not signed correctly, else None (a signed one is kept)."""
    try:
        doc = registry.store.get_json(key)
    except NotFound:
        return None
    if _valid(registry, kind, key, doc):
        report.kept.append(key)
        return None
    return doc


def _put(registry: Registry, report: ResignReport, kind: str, key: str, doc: dict[str, Any]) -> None:
    registry.store.put_json(key, sign_record(registry.signer, kind, key, doc))
    report.signed.append(key)


def _versions(registry: Registry, model: str, report: ResignReport) -> set[str]:
    store, good = registry.store, set()
    for key in sorted(k for k in store.list(f"{registry.prefix}/{model}/") if k.endswith("/metadata.json")):
        version = key.split("/")[-2]
        doc = store.get_json(key)
        if _valid(registry, "metadata", key, doc):
            report.kept.append(key)
            good.add(version)
            continue
        try:
            data = store.get_bytes(f"{registry.prefix}/{model}/{version}/{MODEL_FILE}")
        except NotFound:
            report.skipped.append(f"{key}: {version} has no {MODEL_FILE}")
            continue
        if not isinstance(doc, dict) or hashlib.sha256(data).hexdigest() != doc.get("sha256"):
            report.skipped.append(f"{key}: {model} {version}'s model file does not match its sha256")
            continue
        _put(registry, report, "metadata", key, doc)
        good.add(version)
    return good


def resign(registry: Registry) -> ResignReport:
    """Sign every unsigned record that can be vouched for; report what was signed, kept and skipped."""
    report = ResignReport()
    for model in registry.models():
        good = _versions(registry, model, report)
        for alias in ALIASES:
            key = f"{registry.prefix}/{model}/aliases/{alias}.json"
            doc = _unsigned(registry, report, "alias", key)
            if doc is None:
                continue
            version = str(doc.get("version") or "") if isinstance(doc, dict) else ""
            if version not in good:
                report.skipped.append(f"{key}: points to {version or 'nothing'}, not a signed version")
                continue
            reason = str(doc.get("reason") or "") if isinstance(doc, dict) else ""
            pointer = {"model": model, "alias": alias, "version": version, "reason": reason}
            _put(registry, report, "alias", key, {**pointer, "updated_at": doc.get("updated_at", 0)})
        key = f"{registry.prefix}/{model}/history.json"
        doc = _unsigned(registry, report, "history", key)
        if doc is None:
            continue
        entries = doc if isinstance(doc, list) else doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            report.skipped.append(f"{key}: not a history")
            continue
        _put(registry, report, "history", key, {"model": model, "entries": entries})
    return report
