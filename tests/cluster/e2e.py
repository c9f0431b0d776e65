"""`make e2e`: driftloop on the real engines of `make cluster`, with assertions on real objects.

Checks, in order (each prints a timeline line; the run ends with a one-line summary):
1. `kubectl apply -k manifests/overlays/local-cluster` and the Secrets it asks for;
2. a manual `driftloop retrain credit` submitted through the Argo Server: every step runs as a pod of the
   driftloop image, the Workflow ends Succeeded, the registry holds champion v1 with its metrics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cluster  # noqa: E402

REPO = cluster.REPO
DRIFTLOOP = REPO / ".venv" / "bin" / "driftloop"
NAMESPACE = "driftloop"
IMAGE = "ghcr.io/driftloop/driftloop:"
T0 = time.monotonic()


class E2EError(Exception):
    """A check failed; the message says which and what was seen."""


def mark(stage: str, message: str) -> None:
    print(f"e2e {time.monotonic() - T0:7.1f}s  {stage:<10} {message}", flush=True)


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    exe = REPO / ".venv" / "bin" / "kubectl"
    p = subprocess.run(
        [str(exe), "--kubeconfig", str(cluster.KUBECONFIG), *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if check and p.returncode != 0:
        raise E2EError(f"kubectl {' '.join(args[:3])} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


def host_env() -> dict[str, str]:
    """The configuration a user's machine would have: the Argo Server, and Kafka/S3 at the node."""
    access, secret = cluster.s3_keys()
    ip = kubectl("-n", "argo", "get", "svc", "argo-server", "-o", "jsonpath={.spec.clusterIP}")
    return {
        **os.environ,
        "DRIFTLOOP_ARGO__SERVER_URL": f"http://{ip}:2746",
        "DRIFTLOOP_ARGO__NAMESPACE": NAMESPACE,
        "DRIFTLOOP_S3__ENDPOINT_URL": f"http://{cluster.NODE_IP}:{cluster.S3_PORT}",
        "DRIFTLOOP_S3__ACCESS_KEY_ID": access,
        "DRIFTLOOP_S3__SECRET_ACCESS_KEY": secret,
        "DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS": f"{cluster.NODE_IP}:{cluster.KAFKA_PORT}",
    }


def secret(name: str, **data: str) -> None:
    args = ["-n", NAMESPACE, "create", "secret", "generic", name, "--dry-run=client", "-o", "json"]
    args += [f"--from-literal={k.replace('_', '-')}={v}" for k, v in data.items()]
    kubectl("apply", "-f", "-", stdin=kubectl(*args))


def apply_overlay(env: dict[str, str]) -> None:
    kubectl("apply", "-k", str(REPO / "manifests" / "overlays" / "local-cluster"))
    access, key = cluster.s3_keys()
    secret("driftloop-s3", access_key_id=access, secret_access_key=key)
    keys = dict(
        line.split("=", 1)
        for line in subprocess.run(
            [str(DRIFTLOOP), "registry", "keygen"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=REPO,
        ).stdout.split()
    )
    secret("driftloop-signing", signing_key=keys["signing-key"])
    secret("driftloop-verify", verify_key=keys["verify-key"])
    secret("driftloop-serving", auth_token=os.urandom(16).hex())
    # The controller did not apply a workflow-controller-configmap changed while it ran (its watches are
    # unreliable on Debian's etcd 3.4, see engines.py): pods came without the executor securityContext and
    # the namespace's `restricted` Pod Security refused them. Restart it so it reads the merged keys.
    kubectl("-n", "argo", "rollout", "restart", "deployment/workflow-controller")
    kubectl("-n", "argo", "rollout", "status", "deployment/workflow-controller", "--timeout=180s")
    mark("apply", "manifests/overlays/local-cluster applied; Secrets driftloop-s3/-signing/-verify/-serving")


def _python(code: str, env: dict[str, str], what: str) -> str:
    """Run ``code`` with the checkout's Python against the cluster's S3 (``env``); its stdout, stripped."""
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise E2EError(f"{what} failed: {out.stderr.strip()[-300:]}")
    return out.stdout.strip()


def seed(env: dict[str, str]) -> None:
    """The credit data set the retrain reads (what `driftloop demo` writes first)."""
    code = (
        "from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.demo.data import applications; s = S3Store(load_settings()); "
        "s.put_parquet('datasets/credit/current.parquet', applications(4000, 1, False)); "
        "print(s.uri('datasets/credit/current.parquet'))"
    )
    mark("data", f"4000 applications → {_python(code, env, 'seeding the data set')}")


def manual_retrain(env: dict[str, str]) -> str:
    t0 = time.monotonic()
    p = subprocess.run(
        [str(DRIFTLOOP), "retrain", "credit", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=1200,
    )
    name = next((line.split("/")[-1] for line in p.stderr.splitlines() if line.startswith("submitted ")), "")
    if not name:
        raise E2EError(f"driftloop retrain did not submit (exit {p.returncode}): {p.stderr.strip()[-300:]}")
    mark("submit", f"Workflow {NAMESPACE}/{name} submitted through the Argo Server")
    wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
    phase = wf["status"].get("phase")
    nodes = wf["status"].get("nodes", {}).values()
    pod_nodes = [n for n in nodes if n["type"] == "Pod"]
    pods = json.loads(
        kubectl("-n", NAMESPACE, "get", "pods", "-l", f"workflows.argoproj.io/workflow={name}", "-o", "json")
    )["items"]
    images = {c["image"] for pod in pods for c in pod["spec"]["containers"] if c["name"] == "main"}
    if p.returncode != 0 or phase != "Succeeded":
        failed = [
            f"{n['displayName']}: {n.get('message', '')}" for n in pod_nodes if n["phase"] != "Succeeded"
        ]
        raise E2EError(f"{name} ended {phase} (retrain exit {p.returncode}): {failed[:3]}")
    if len(pods) < len(pod_nodes) or not images or not all(i.startswith(IMAGE) for i in images):
        raise E2EError(f"{name}: {len(pod_nodes)} pod steps, {len(pods)} pods, main images {images}")
    mark(
        "run",
        f"{name} Succeeded in {time.monotonic() - t0:.0f} s: {len(pod_nodes)} steps, each a pod of "
        f"{', '.join(sorted(images))}",
    )
    return name


def champion(env: dict[str, str]) -> str:
    code = (
        "import json; from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.registry import Registry; r = Registry(S3Store(load_settings())); "
        "v = r.get_alias('credit', 'champion'); m = r.get('credit', v).metrics if v else {}; "
        "print(json.dumps({'champion': v, 'metrics': m}))"
    )
    got = json.loads(_python(code, env, "reading the registry"))
    if got["champion"] != "v1" or not got["metrics"]:
        raise E2EError(f"registry: champion {got['champion']}, metrics {got['metrics']} (want v1 + metrics)")
    shown = ", ".join(
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in got["metrics"].items()
    )
    mark("registry", f"champion v1: {shown[:120]}")
    return str(got["champion"])


def main() -> int:
    try:
        if not cluster.node_ready():
            raise E2EError("the cluster is not up — run `make cluster` first")
        env = host_env()
        apply_overlay(env)
        seed(env)
        name = manual_retrain(env)
        champion(env)
    except (E2EError, cluster.ClusterError, subprocess.TimeoutExpired) as e:
        print(f"e2e: FAILED after {time.monotonic() - T0:.0f} s — {e}", file=sys.stderr)
        return 1
    print(f"e2e: 1/1 checks passed in {time.monotonic() - T0:.0f} s (manual retrain {name} → champion v1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
