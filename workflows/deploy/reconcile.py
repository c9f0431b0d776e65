"""Reconciliation: registry aliases agree with the runs that own them.

A ``canary`` alias is owned by the retrain run that deployed it (``records["canary_owner"]`` on the
version, written by the deploy-canary step). When that run is gone — its executor was killed during the
analysis, or it ended without a verdict — nobody will ever analyse the canary, yet it keeps a share of
the traffic. :func:`reconcile_canaries` rolls such a canary back through the deploy target (traffic and
alias), with a log line and a record on the version. We roll back rather than resume the analysis: the
run that owned the canary is resumed by the local sensor from its durable submission (same identity,
same registered version — ``evaluate`` does not register twice), and it deploys and analyses the canary
again from a clean start; a half-observed analysis window cannot be trusted after a crash.

``driftloop up`` runs it once the services answer. A canary whose owner is unknown here (no local run
record: a cluster run, or a canary from before owners were recorded) is left alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from driftloop.contracts import CANARY_OWNER_RECORD

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry

__all__ = ["OWNER_RECORD", "reconcile_canaries"]

log = logging.getLogger("driftloop.deploy")

OWNER_RECORD = CANARY_OWNER_RECORD


def reconcile_canaries(
    settings: Settings,
    alive: Callable[[str], bool | None],
    registry: Registry | None = None,
    target: Any = None,
) -> list[dict[str, Any]]:
    """Roll back every canary whose owning run is known to be gone; returns what was done."""
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from workflows.deploy import get_target

    registry = registry or Registry(S3Store(settings))
    done = []
    for model in registry.models():
        version = registry.get_alias(model, "canary")
        if version is None:
            continue
        owner = str((registry.get(model, version).records.get(OWNER_RECORD) or {}).get("workflow") or "")
        if not owner or alive(owner) is not False:
            continue
        reason = f"reconcile: run {owner}, which deployed canary {version}, is gone"
        log.warning("%s: rolling back canary %s (%s)", model, version, reason)
        target = target or get_target(settings)
        target.rollback(model, version)
        registry.record(
            model, version, "reconciled", {"action": "rollback", "reason": reason, "at": time.time()}
        )
        done.append({"model": model, "version": version, "owner": owner, "action": "rollback"})
    return done
