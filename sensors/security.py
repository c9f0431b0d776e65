"""Pod and container security for the Argo Events pods: Sensor, EventSource, EventBus (JetStream).

The restricted Pod Security Standard, in the fields the Argo Events v1.9 schema offers: a pod-level
``securityContext`` (``Template.securityContext`` / ``JetStreamBus.securityContext``, both
``PodSecurityContext``) and, per container, ``securityContext`` + ``resources`` (``Template.container``
/ the three JetStream ``*ContainerTemplate``). The policy the manifests must meet is ``tests/policy.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RUN_AS_USER", "container", "pod_security_context", "pod_template"]

#: A non-root numeric id: Argo Events' images and nats run as any uid.
RUN_AS_USER = 10001

#: requests / limits per container role. Sensor and EventSource pods are one small Go process each;
#: nats keeps JetStream state on the persistence volume, not in memory.
_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "sensor": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "eventsource": {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    },
    "nats": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "sidecar": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
}


def pod_security_context(*, fs_group: bool = False) -> dict[str, Any]:
    """The pod-level context. ``fs_group`` for pods writing to a volume (the JetStream PVC)."""
    out: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group:
        out["fsGroup"] = RUN_AS_USER
    return out


def container(role: str) -> dict[str, Any]:
    """``securityContext`` + ``resources`` of one container (``sensor``, ``eventsource``, ``nats``,
    ``sidecar``): a fresh dict each call, so callers may extend it."""
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {kind: dict(values) for kind, values in _RESOURCES[role].items()},
    }


def pod_template(role: str, account: str | None = None) -> dict[str, Any]:
    """``spec.template`` of a Sensor / EventSource: the account, pod security, one container."""
    out: dict[str, Any] = {"serviceAccountName": account} if account else {}
    out["securityContext"] = pod_security_context()
    out["container"] = container(role)
    return out
