"""The hand-written part of the kustomize tree, for a project outside this repository.

``driftloop compile`` renders the model-specific objects under ``manifests/base/generated/``; the objects
every install needs besides them — the namespace, the ``driftloop-config`` ConfigMap, the ServiceAccounts
and RBAC, NetworkPolicies, PodDisruptionBudgets, the observability kit, the credentials component and the
two overlays — are written by hand once, in this repository's ``manifests/``. A project made with
``driftloop init`` has none of them, so its generated YAML would reference a ConfigMap and ServiceAccounts
that no file creates. :func:`scaffold` copies them next to the generated objects, so ``kubectl apply -k
manifests/overlays/<name>`` works from the user's directory as it does from this one.

The copies are the user's from then on (an overlay is where their endpoints go): a file that exists is
never overwritten; delete it to get driftloop's current version back. In a checkout the source is the
repository's ``manifests/``; an installed wheel carries the same files as ``driftloop/_manifests``
(pyproject's ``force-include``).
"""

from __future__ import annotations

from pathlib import Path

from driftloop.compiler import GENERATED_DIR
from driftloop.errors import WorkflowError

__all__ = ["missing", "platform_files", "platform_root", "scaffold"]

_CHECKOUT = Path(__file__).resolve().parents[1] / "manifests"
_WHEEL = Path(__file__).resolve().parent / "_manifests"


def platform_root() -> Path:
    """The hand-written kustomize tree this driftloop ships (the checkout's, else the wheel's copy)."""
    return _CHECKOUT if (_CHECKOUT / "base" / "kustomization.yaml").is_file() else _WHEEL


def platform_files(root: Path | None = None) -> dict[str, bytes]:
    """Every hand-written file of the tree by relative path — everything but the generated objects."""
    root = root or platform_root()
    if not (root / "base" / "kustomization.yaml").is_file():
        raise WorkflowError(
            f"driftloop's kustomize base is missing from this install ({root})",
            "reinstall driftloop (pip install --force-reinstall driftloop)",
        )
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not (rel == GENERATED_DIR or rel.startswith(f"{GENERATED_DIR}/")):
            out[rel] = path.read_bytes()
    return out


def _is_platform(out_dir: Path) -> bool:
    return out_dir.resolve() == platform_root().resolve()


def missing(out_dir: Path) -> list[str]:
    """The hand-written files ``out_dir`` lacks (none when ``out_dir`` is the shipped tree itself)."""
    if _is_platform(out_dir):
        return []
    return [rel for rel in platform_files() if not (out_dir / rel).exists()]


def scaffold(out_dir: Path) -> list[str]:
    """Copy the hand-written files ``out_dir`` lacks; never overwrite one. Returns the paths written."""
    written = []
    files = platform_files()
    for rel in missing(out_dir):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
        written.append(rel)
    return written
