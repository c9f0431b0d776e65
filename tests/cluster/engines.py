"""Argo Workflows and Argo Events in the cluster, from the install manifests their Go modules ship.

The manifests are read from the module cache of the pinned versions (tests/cluster/argo-workflows/go.mod,
tests/engines/argo-events/go.mod) — nothing of Argo's is copied into this repository. A kustomization
written under the cluster's data directory points at them and changes only what a machine without a
registry needs: the image tags of the images images.sh built (a `latest` tag would make the kubelet pull),
the pull policy the Argo Events controller gives the pods it creates, and a plain-HTTP Argo Server.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def module_dir(mod_dir: Path, module: str) -> tuple[Path, str]:
    """(directory in the module cache, version) of a module required by the build module at mod_dir."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", module], cwd=mod_dir, capture_output=True, text=True, check=True
    ).stdout
    info = json.loads(out)
    return Path(info["Dir"]), str(info["Version"])


# Debian's etcd (3.4.23) is older than what kube-apiserver needs for watch progress requests (3.4.31), so
# the apiserver refuses streaming list-watches ("the required storage feature RequestWatchProgress is
# disabled"); Argo's client-go then never saw a pod finish (the first step stayed Pending after its pod
# Completed). Clients fall back to list + watch with client-go's WatchListClient gate off.
NO_WATCH_LIST = {"name": "KUBE_FEATURE_WatchListClient", "value": "false"}


def _env_patch(
    deployment: str, container: str, env: list[dict[str, str]], **fields: str
) -> dict[str, object]:
    """A strategic-merge patch of one container (env entries merge by name)."""
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment},
        "spec": {"template": {"spec": {"containers": [{"name": container, "env": env, **fields}]}}},
    }
    return {"target": {"kind": "Deployment", "name": deployment}, "patch": json.dumps(patch)}


def _kustomization(
    dest: Path, upstream: Path, namespace: str, images: list[dict[str, str]], patches: list[dict[str, object]]
) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    link = dest / "upstream"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(upstream)
    (dest / "kustomization.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": namespace,
                "resources": ["upstream"],
                "images": images,
                "patches": patches,
            },
            indent=1,
        )
    )
    return dest


def workflows_kustomization(dest: Path) -> tuple[Path, str]:
    root, version = module_dir(HERE / "argo-workflows", "github.com/argoproj/argo-workflows/v3")
    server_patch = [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/args",
            "value": ["server", "--auth-mode=server", "--secure=false"],
        },
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/scheme",
            "value": "HTTP",
        },
    ]
    path = _kustomization(
        dest,
        root / "manifests" / "cluster-install",
        "argo",
        [{"name": f"quay.io/argoproj/{n}", "newTag": version} for n in ("workflow-controller", "argocli")],
        [
            {"target": {"kind": "Deployment", "name": "argo-server"}, "patch": json.dumps(server_patch)},
            _env_patch("argo-server", "argo-server", [NO_WATCH_LIST]),
            _env_patch("workflow-controller", "workflow-controller", [NO_WATCH_LIST]),
        ],
    )
    return path, version


def events_kustomization(dest: Path) -> tuple[Path, str]:
    root, version = module_dir(REPO / "tests" / "engines" / "argo-events", "github.com/argoproj/argo-events")
    image = f"quay.io/argoproj/argo-events:{version}"
    # the image the controller gives EventSource and Sensor pods, and their pull policy
    env = [
        {"name": "ARGO_EVENTS_IMAGE", "value": image},
        {"name": "IMAGE_PULL_POLICY", "value": "IfNotPresent"},
        NO_WATCH_LIST,
    ]
    path = _kustomization(
        dest,
        root / "manifests" / "cluster-install",
        "argo-events",
        [{"name": "quay.io/argoproj/argo-events", "newTag": version}],
        [_env_patch("controller-manager", "controller-manager", env, imagePullPolicy="IfNotPresent")],
    )
    return path, version


def install(
    data: Path, kubectl: Callable[..., subprocess.CompletedProcess[str]], say: Callable[[str], None]
) -> None:
    """Apply both installs and wait for their controllers (and the Argo Server) to be available."""
    wf, wf_version = workflows_kustomization(data / "engines" / "argo-workflows")
    ev, ev_version = events_kustomization(data / "engines" / "argo-events")
    for ns in ("argo", "argo-events"):
        if kubectl("get", "namespace", ns, check=False).returncode != 0:
            kubectl("create", "namespace", ns)
    # server-side: Argo's full CRDs are larger than the last-applied annotation allows
    kubectl("apply", "--server-side", "--force-conflicts", "-k", str(wf))
    say(f"Argo Workflows {wf_version} applied (controller, server)")
    kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ev))
    say(f"Argo Events {ev_version} applied (controller)")
    for ns, deploy in (
        ("argo", "workflow-controller"),
        ("argo", "argo-server"),
        ("argo-events", "controller-manager"),
    ):
        if (
            kubectl(
                "-n", ns, "rollout", "status", f"deployment/{deploy}", "--timeout=180s", check=False
            ).returncode
            != 0
        ):
            pods = kubectl("-n", ns, "get", "pods", "-o", "wide", check=False).stdout
            raise RuntimeError(f"{ns}/{deploy} not available after 180 s:\n{pods}")
        say(f"{ns}/{deploy} available")
