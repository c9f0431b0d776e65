"""A real single-node Kubernetes on this machine, from Debian packages and binaries built by build.sh.

    python tests/cluster/cluster.py up      # make cluster
    python tests/cluster/cluster.py down    # make cluster-down
    python tests/cluster/cluster.py status

Everything it makes is under two roots (``/var/lib/driftloop-cluster`` for data, ``/run/driftloop-cluster``
for sockets, pids and the pods' network namespaces) plus one bridge (``dlc0``, 10.244.0.1/24, the node's
address), the cgroups the kubelet makes (``kubepods``) and the iptables chains kube-proxy makes (``KUBE-*``).
``down`` removes exactly those, so it leaves nothing behind and touches nothing else (other programs on the
machine keep their iptables rules, mounts and namespaces).

Facts of these machines the script relies on (seen when it was written):
- cgroups v1 (hybrid): Kubernetes 1.34 still accepts it (1.35 needs ``failCgroupV1: false``).
- no CAP_SYS_RESOURCE: a negative oom_score_adj is refused, so containerd runs with
  ``restrict_oom_score_adj = true``.
- ``ip netns exec`` remounts /sys and hides the cgroups; ``nsenter --net`` does not.
- kube-proxy exits when its configuration file changes, so it is written only when its content changes.
- no image can be pulled: every image is imported with its fully qualified name (images.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CLUSTER_CACHE", Path.home() / ".cache" / "driftloop-cluster"))
BIN = CACHE / "bin"
DATA = Path(os.environ.get("CLUSTER_DATA", "/var/lib/driftloop-cluster"))
RUN = Path(os.environ.get("CLUSTER_RUN", "/run/driftloop-cluster"))
PKI = DATA / "pki"
LOGS = DATA / "logs"
BRIDGE = "dlc0"
NODE_IP = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
NODE = "driftloop"
ETCD_URL = "http://127.0.0.1:23790"
APISERVER = f"https://{NODE_IP}:6443"
KUBECONFIG = DATA / "admin.kubeconfig"
CONTAINERD_SOCK = RUN / "containerd" / "containerd.sock"
# containerd's content and snapshots are a cache (the imported images survive `down`: a warm `up` does not
# import the 1.5 GB driftloop image again); its state (tasks, netns) is under RUN and goes with `down`
CONTAINERD_ROOT = CACHE / "containerd"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
CNI_BIN = "/usr/lib/cni"

# (name, binary) in start order; down stops them in reverse
SERVICES = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
    "coredns",
    "kafka-s3",
]
KAFKA_PORT, S3_PORT = 9092, 9000


class ClusterError(Exception):
    """A step failed; the message is one line saying what and what to do."""


def say(msg: str) -> None:
    print(f"cluster: {msg}", flush=True)


def run(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        p = subprocess.run([str(c) for c in cmd], text=True, capture_output=True)
    except FileNotFoundError as e:
        raise ClusterError(f"{cmd[0]} is not installed — install it and run again") from e
    if check and p.returncode != 0:
        last = (p.stderr or p.stdout).strip().splitlines()[-1:] or [""]
        raise ClusterError(f"{Path(str(cmd[0])).name} exited {p.returncode}: {last[0]}")
    return p


# ---------------------------------------------------------------- prerequisites


def check_prerequisites() -> None:
    tools = {
        "containerd": "apt-get install containerd",
        "runc": "apt-get install runc",
        "ctr": "apt-get install containerd",
        "etcd": "apt-get install etcd-server",
        "openssl": "apt-get install openssl",
        "iptables": "apt-get install iptables",
        "ip": "apt-get install iproute2",
        "nsenter": "apt-get install util-linux",
    }
    for tool, fix in tools.items():
        if shutil.which(tool) is None:
            raise ClusterError(f"{tool} is not installed — {fix}")
    if not Path(CNI_BIN, "bridge").exists():
        raise ClusterError(f"{CNI_BIN}/bridge is missing — apt-get install containernetworking-plugins")
    for b in (
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "coredns",
        "pause",
    ):
        if not (BIN / b).exists():
            raise ClusterError(f"{BIN / b} is missing — run tests/cluster/build.sh (make cluster does)")
    if os.geteuid() != 0:
        raise ClusterError("a cluster needs root (kubelet, containerd, iptables) — run as root")


# ---------------------------------------------------------------- processes


def pidfile(name: str) -> Path:
    return RUN / f"{name}.pid"


def alive(name: str) -> int | None:
    try:
        pid = int(pidfile(name).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start(
    name: str, cmd: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    if alive(name):
        say(f"{name} already running")
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as log:
        p = subprocess.Popen(
            [str(c) for c in cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
    pidfile(name).write_text(str(p.pid))
    say(f"{name} started (pid {p.pid}, log {LOGS / (name + '.log')})")


def wait(what: str, ok: object, timeout: float, name: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ok():  # type: ignore[operator]
                say(f"{what}: ready")
                return
        except Exception:
            pass
        if name and not alive(name):
            tail = (LOGS / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise ClusterError(f"{name} exited: {tail[0][:300]}")
        time.sleep(1)
    raise ClusterError(f"{what} not ready after {timeout:.0f} s — see {LOGS}")


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = REPO / ".venv" / "bin" / "kubectl"
    if not exe.exists():
        exe = Path(shutil.which("kubectl") or "kubectl")
    return run(exe, "--kubeconfig", KUBECONFIG, *args, check=check)


# ---------------------------------------------------------------- certificates


def openssl_cert(
    name: str, subject: str, *, ca: bool = False, sans: list[str] | None = None, client: bool = False
) -> None:
    key, crt = PKI / f"{name}.key", PKI / f"{name}.crt"
    if crt.exists():
        return
    run("openssl", "genrsa", "-out", key, "2048")
    if ca:
        run("openssl", "req", "-x509", "-new", "-key", key, "-days", "365", "-subj", subject, "-out", crt)
        return
    ext = PKI / f"{name}.ext"
    lines = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={'clientAuth' if client else 'serverAuth,clientAuth'}",
    ]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    csr = PKI / f"{name}.csr"
    run("openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr)
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        PKI / "ca.crt",
        "-CAkey",
        PKI / "ca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        ext,
        "-out",
        crt,
    )


def make_pki() -> None:
    PKI.mkdir(parents=True, exist_ok=True)
    openssl_cert("ca", "/CN=driftloop-cluster-ca", ca=True)
    openssl_cert(
        "apiserver",
        "/CN=kube-apiserver",
        sans=[
            f"IP:{NODE_IP}",
            "IP:127.0.0.1",
            "IP:10.96.0.1",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
            "DNS:localhost",
        ],
    )
    # One client identity per component, named as Kubernetes' RBAC defaults expect.
    openssl_cert("admin", "/O=system:masters/CN=driftloop-admin", client=True)
    openssl_cert("controller-manager", "/CN=system:kube-controller-manager", client=True)
    openssl_cert("scheduler", "/CN=system:kube-scheduler", client=True)
    openssl_cert("kubelet", f"/O=system:nodes/CN=system:node:{NODE}", client=True)
    openssl_cert("kube-proxy", "/CN=system:kube-proxy", client=True)
    openssl_cert("coredns", "/O=system:masters/CN=coredns", client=True)
    if not (PKI / "sa.key").exists():
        run("openssl", "genrsa", "-out", PKI / "sa.key", "2048")
        run("openssl", "rsa", "-in", PKI / "sa.key", "-pubout", "-out", PKI / "sa.pub")
    for name in ("admin", "controller-manager", "scheduler", "kubelet", "kube-proxy", "coredns"):
        path = KUBECONFIG if name == "admin" else DATA / f"{name}.kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "driftloop",
                    "clusters": [
                        {
                            "name": "driftloop",
                            "cluster": {"server": APISERVER, "certificate-authority": str(PKI / "ca.crt")},
                        }
                    ],
                    "users": [
                        {
                            "name": name,
                            "user": {
                                "client-certificate": str(PKI / f"{name}.crt"),
                                "client-key": str(PKI / f"{name}.key"),
                            },
                        }
                    ],
                    "contexts": [{"name": "driftloop", "context": {"cluster": "driftloop", "user": name}}],
                },
                indent=1,
            )
        )
    say(f"certificates and kubeconfigs in {PKI} (admin: {KUBECONFIG})")


# ---------------------------------------------------------------- host network


def setup_network() -> None:
    # the kernel has no loadable modules (nomodule): br_netfilter and overlay are built in or missing
    for key, value in (("net/ipv4/ip_forward", "1"), ("net/bridge/bridge-nf-call-iptables", "1")):
        path = Path("/proc/sys") / key
        if not path.exists():
            raise ClusterError(f"/proc/sys/{key} is missing — the kernel needs br_netfilter")
        if path.read_text().strip() != value:
            path.write_text(value)
    if run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    cni = DATA / "cni" / "net.d"
    cni.mkdir(parents=True, exist_ok=True)
    (cni / "10-driftloop.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "driftloop",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": False,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "dataDir": str(DATA / "cni" / "ipam"),
                            "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                        },
                    }
                ],
            },
            indent=1,
        )
    )
    say(f"bridge {BRIDGE} {NODE_IP}/24, pod network {POD_CIDR}")


# ---------------------------------------------------------------- components


def https_ok(url: str) -> bool:
    import ssl

    ctx = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    ctx.load_cert_chain(str(PKI / "admin.crt"), str(PKI / "admin.key"))
    with urllib.request.urlopen(url, context=ctx, timeout=3) as r:
        return bool(r.status == 200)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as r:
        return bool(r.status == 200)


def start_control_plane() -> None:
    start(
        "etcd",
        [
            "etcd",
            "--name",
            NODE,
            "--data-dir",
            DATA / "etcd",
            "--listen-client-urls",
            ETCD_URL,
            "--advertise-client-urls",
            ETCD_URL,
            "--listen-peer-urls",
            "http://127.0.0.1:23800",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:23800",
            "--initial-cluster",
            f"{NODE}=http://127.0.0.1:23800",
        ],
    )
    wait("etcd", lambda: http_ok(f"{ETCD_URL}/health"), 60, "etcd")
    start(
        "kube-apiserver",
        [
            BIN / "kube-apiserver",
            "--etcd-servers",
            ETCD_URL,
            "--bind-address",
            NODE_IP,
            "--advertise-address",
            NODE_IP,
            "--secure-port",
            "6443",
            "--tls-cert-file",
            PKI / "apiserver.crt",
            "--tls-private-key-file",
            PKI / "apiserver.key",
            "--client-ca-file",
            PKI / "ca.crt",
            "--service-cluster-ip-range",
            SERVICE_CIDR,
            "--service-account-key-file",
            PKI / "sa.pub",
            "--service-account-signing-key-file",
            PKI / "sa.key",
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--authorization-mode",
            "Node,RBAC",
            "--allow-privileged=true",
            "--kubelet-client-certificate",
            PKI / "admin.crt",
            "--kubelet-client-key",
            PKI / "admin.key",
            "--enable-admission-plugins",
            "NodeRestriction",
            # the node's name is not in any DNS: logs and exec reach the kubelet at its address
            "--kubelet-preferred-address-types",
            "InternalIP",
            # Debian's etcd 3.4.23 cannot serve watch progress requests (the apiserver needs 3.4.31), so a
            # streaming list-watch ends at once ("RequestWatchProgress is disabled") and Argo's controller saw
            # pods finish only at a resync; with the WatchList gate off clients get plain LIST + WATCH.
            "--feature-gates",
            "WatchList=false",
        ],
    )
    wait("kube-apiserver", lambda: https_ok(f"{APISERVER}/readyz"), 180, "kube-apiserver")
    start(
        "kube-controller-manager",
        [
            BIN / "kube-controller-manager",
            "--kubeconfig",
            DATA / "controller-manager.kubeconfig",
            "--authentication-kubeconfig",
            DATA / "controller-manager.kubeconfig",
            "--authorization-kubeconfig",
            DATA / "controller-manager.kubeconfig",
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
            "--use-service-account-credentials",
            "--service-account-private-key-file",
            PKI / "sa.key",
            "--root-ca-file",
            PKI / "ca.crt",
            "--cluster-signing-cert-file",
            PKI / "ca.crt",
            "--cluster-signing-key-file",
            PKI / "ca.key",
            "--service-cluster-ip-range",
            SERVICE_CIDR,
        ],
    )
    start(
        "kube-scheduler",
        [
            BIN / "kube-scheduler",
            "--kubeconfig",
            DATA / "scheduler.kubeconfig",
            "--authentication-kubeconfig",
            DATA / "scheduler.kubeconfig",
            "--authorization-kubeconfig",
            DATA / "scheduler.kubeconfig",
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
        ],
    )


def containerd_config() -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{CONTAINERD_ROOT}"
state = "{RUN / "containerd" / "state"}"
[grpc]
  address = "{CONTAINERD_SOCK}"
[ttrpc]
  address = "{RUN / "containerd" / "containerd.sock.ttrpc"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{DATA / "containerd-opt"}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{DATA / "cni" / "net.d"}"
[{cri}.containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
"""


def ctr(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ctr", "--address", CONTAINERD_SOCK, "-n", "k8s.io", *args, check=check)


def import_image(archive: Path, name: str) -> None:
    """Import an OCI archive unless containerd already holds the same manifest under that name."""
    import tarfile

    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        digest = json.loads(member.read())["manifests"][0]["digest"] if member else ""
    for line in ctr("images", "ls").stdout.splitlines()[1:]:
        ref, _type, have = line.split()[:3]
        if ref == name and have == digest:
            say(f"image {name} present")
            return
    t0 = time.monotonic()
    ctr("images", "import", archive)
    say(f"image {name} imported ({time.monotonic() - t0:.0f} s)")


def image_name(archive: Path) -> str:
    import tarfile

    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        index = json.loads(member.read()) if member else {}
    return str(index["manifests"][0]["annotations"]["io.containerd.image.name"])


def start_node() -> None:
    (RUN / "containerd").mkdir(parents=True, exist_ok=True)
    conf = DATA / "containerd.toml"
    conf.write_text(containerd_config())
    start("containerd", ["containerd", "--config", conf])
    wait("containerd", lambda: ctr("version").returncode == 0, 60, "containerd")
    pause_tar = CACHE / "images" / "pause.tar"
    if not pause_tar.exists():
        raise ClusterError(f"{pause_tar} is missing — run tests/cluster/images.sh pause (make cluster does)")
    import_image(pause_tar, PAUSE_IMAGE)
    kubelet_dir = DATA / "kubelet"
    kubelet_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(PKI / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCK}",
        "clusterDNS": [NODE_IP],
        "clusterDomain": "cluster.local",
        "failSwapOn": False,
        "resolvConf": "/etc/resolv.conf",
        "registerNode": True,
        "podCIDR": POD_CIDR,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "localStorageCapacityIsolation": True,
        "protectKernelDefaults": False,
    }
    (DATA / "kubelet.yaml").write_text(json.dumps(config, indent=1))
    start(
        "kubelet",
        [
            BIN / "kubelet",
            "--config",
            DATA / "kubelet.yaml",
            "--kubeconfig",
            DATA / "kubelet.kubeconfig",
            "--root-dir",
            kubelet_dir,
            "--cert-dir",
            kubelet_dir / "pki",
            "--node-ip",
            NODE_IP,
            "--hostname-override",
            NODE,
        ],
    )
    proxy_conf = DATA / "kube-proxy.yaml"
    text = json.dumps(
        {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "hostnameOverride": NODE,
            "clientConnection": {"kubeconfig": str(DATA / "kube-proxy.kubeconfig")},
            "bindAddress": "127.0.0.1",
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            # the sandbox may refuse conntrack sysctls; leave the kernel's values
            "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        },
        indent=1,
    )
    # kube-proxy watches its configuration file and exits when it changes: write only a new content
    if not proxy_conf.exists() or proxy_conf.read_text() != text:
        proxy_conf.write_text(text)
    start("kube-proxy", [BIN / "kube-proxy", "--config", proxy_conf])
    corefile = DATA / "Corefile"
    corefile.write_text(f""".:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {DATA / "coredns.kubeconfig"}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
    loadbalance
}}
""")
    start("coredns", [BIN / "coredns", "-conf", corefile])


def node_ready() -> bool:
    out = kubectl(
        "get", "node", NODE, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False
    ).stdout
    return out.strip() == "True"


def port_open(port: int) -> bool:
    import socket

    with socket.create_connection((NODE_IP, port), timeout=2):
        return True


def start_kafka_s3() -> None:
    """Apache Kafka and SeaweedFS's S3 on the node's address, run by `driftloop up --services-only`, and
    the Services the local-cluster overlay expects in front of them (kafka.kafka, minio.minio)."""
    services = DATA / "services"
    services.mkdir(parents=True, exist_ok=True)
    libs = CACHE / "kafka" / "libs"
    if not libs.is_dir():
        raise ClusterError(f"{libs} is missing — run tests/cluster/build.sh (make cluster does)")
    env = {
        "DRIFTLOOP_EMBEDDED__HOST": NODE_IP,
        "DRIFTLOOP_KAFKA__ENGINE": "apache",
        "DRIFTLOOP_EMBEDDED__KAFKA_LIBS": str(libs),
        "DRIFTLOOP_EMBEDDED__KAFKA_STORAGE": "memory",
    }
    # its own directory as the working directory: no driftloop.yaml of a checkout applies
    start(
        "kafka-s3",
        [
            REPO / ".venv" / "bin" / "driftloop",
            "up",
            "--services-only",
            "--data-dir",
            services,
            "--kafka-port",
            str(KAFKA_PORT),
            "--s3-port",
            str(S3_PORT),
        ],
        env=env,
        cwd=services,
    )
    wait(f"Apache Kafka {NODE_IP}:{KAFKA_PORT}", lambda: port_open(KAFKA_PORT), 180, "kafka-s3")
    wait(f"SeaweedFS S3 {NODE_IP}:{S3_PORT}", lambda: port_open(S3_PORT), 180, "kafka-s3")
    for ns, name, port in (("kafka", "kafka", KAFKA_PORT), ("minio", "minio", S3_PORT)):
        apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"ports": [{"name": "main", "port": port, "targetPort": port}]},
            }
        )
        apply(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-node",
                    "namespace": ns,
                    "labels": {"kubernetes.io/service-name": name},
                },
                "addressType": "IPv4",
                "ports": [{"name": "main", "port": port, "protocol": "TCP"}],
                "endpoints": [{"addresses": [NODE_IP]}],
            }
        )
    say(f"kafka.kafka.svc:{KAFKA_PORT} and minio.minio.svc:{S3_PORT} lead to the node's Kafka and S3")


def apply(obj: dict[str, object]) -> None:
    path = DATA / "apply.json"
    path.write_text(json.dumps(obj))
    kubectl("apply", "-f", str(path))


def s3_keys() -> tuple[str, str]:
    """The S3 key pair the node's SeaweedFS was started with (its data_dir's own random pair)."""
    from driftloop.s3 import CREDENTIALS_FILE

    data = json.loads((DATA / "services" / CREDENTIALS_FILE).read_text())
    return str(data["access_key_id"]), str(data["secret_access_key"])


def up() -> None:
    t0 = time.monotonic()
    check_prerequisites()
    for d in (DATA, RUN, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    make_pki()
    setup_network()
    start_control_plane()
    start_node()
    wait("node Ready", node_ready, 180, "kubelet")
    wait("CoreDNS", lambda: http_ok("http://127.0.0.1:18181/ready"), 60, "coredns")
    start_kafka_s3()
    import engines

    for image in ("workflow-controller", "argoexec", "argocli", "argo-events", "driftloop"):
        archive = CACHE / "images" / f"{image}.tar"
        if not archive.exists():
            raise ClusterError(f"{archive} is missing — run tests/cluster/images.sh (make cluster does)")
        import_image(archive, image_name(archive))
    engines.install(DATA, kubectl, say)
    say(f"up in {time.monotonic() - t0:.0f} s — export KUBECONFIG={KUBECONFIG}")
    print(kubectl("get", "nodes", "-o", "wide").stdout, end="")


# ---------------------------------------------------------------- down


def stop(name: str, timeout: float = 15) -> None:
    t0 = time.monotonic()
    pid = alive(name)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(name):
            time.sleep(0.2)
        if alive(name):
            os.killpg(pid, signal.SIGKILL)
        say(f"{name} stopped ({time.monotonic() - t0:.0f} s)")
    pidfile(name).unlink(missing_ok=True)


def our_processes() -> list[int]:
    """Processes of a cluster: run from a binary of BIN, or naming the data or run root in their command
    line (containerd's shims carry its socket path). Never a build writing into BIN."""
    pids = []
    marks = (str(DATA).encode() + b"/", str(RUN).encode() + b"/")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            exe = os.readlink(d / "exe")
        except OSError:
            continue
        if exe.startswith(str(BIN) + "/") or any(m in cmd for m in marks):
            pids.append(int(d.name))
    return pids


CGROUP_ROOT = Path("/sys/fs/cgroup")


def kubepods_cgroups() -> list[Path]:
    """Every cgroup directory the kubelet made (kubepods and below), deepest first."""
    found: list[Path] = []
    if not CGROUP_ROOT.exists():
        return found
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / "kubepods"
        if top.is_dir():
            found.extend(p for p in top.rglob("*") if p.is_dir())
            found.append(top)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def our_mounts() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        roots = (str(DATA), str(RUN), str(CONTAINERD_ROOT))
        if target.startswith(tuple(r + "/" for r in roots)) or target in roots:
            out.append(target)
    return sorted(set(out), key=len, reverse=True)


def our_iptables_chains() -> list[tuple[str, str]]:
    chains = []
    for table in ("filter", "nat", "mangle"):
        p = run("iptables", "-t", table, "-S", check=False)
        for line in p.stdout.splitlines():
            if line.startswith("-N KUBE-") or line.startswith("-N CNI-"):
                chains.append((table, line.split()[1]))
    return chains


def down() -> None:
    for name in reversed(SERVICES):
        if name == "containerd":
            # stop every pod's processes while containerd still knows them
            for cg in kubepods_cgroups():
                procs = cg / "cgroup.procs"
                if procs.exists():
                    for pid in procs.read_text().split():
                        with contextlib.suppress(OSError):
                            os.kill(int(pid), signal.SIGKILL)
            time.sleep(1)
        stop(name)
    for pid in our_processes():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if (BIN / "kube-proxy").exists():
        run(BIN / "kube-proxy", "--cleanup", check=False)
    for table, chain in our_iptables_chains():
        # rules that jump to it first, then the chain itself
        for line in run("iptables", "-t", table, "-S", check=False).stdout.splitlines():
            if f"-j {chain}" in line and line.startswith("-A "):
                run("iptables", "-t", table, *line.replace("-A ", "-D ", 1).split(), check=False)
        run("iptables", "-t", table, "-F", chain, check=False)
    for table, chain in our_iptables_chains():
        run("iptables", "-t", table, "-X", chain, check=False)
    for target in our_mounts():
        run("umount", "-l", target, check=False)
    for _ in range(20):
        left = [cg for cg in kubepods_cgroups() if cg.exists()]
        for cg in left:
            with contextlib.suppress(OSError):
                cg.rmdir()
        if not [cg for cg in kubepods_cgroups() if cg.exists()]:
            break
        time.sleep(0.5)
    if run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        run("ip", "link", "del", BRIDGE, check=False)
    shutil.rmtree(RUN, ignore_errors=True)
    shutil.rmtree(DATA, ignore_errors=True)
    left = leftovers()
    if left:
        raise ClusterError("left behind: " + "; ".join(left))
    say("down: no process, mount, netns, iptables chain, cgroup or bridge left")


def leftovers() -> list[str]:
    """What a cluster of ours would leave behind; empty when the machine is clean."""
    out = []
    if pids := our_processes():
        out.append(f"processes {pids}")
    if mounts := our_mounts():
        out.append(f"mounts {mounts}")
    if chains := our_iptables_chains():
        out.append(f"iptables chains {chains}")
    if cgs := kubepods_cgroups():
        out.append(f"cgroups {[str(c) for c in cgs[:5]]}")
    if run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        out.append(f"bridge {BRIDGE}")
    netns = RUN / "containerd" / "state" / "netns"
    if netns.exists() and any(netns.iterdir()):
        out.append(f"netns {sorted(p.name for p in netns.iterdir())}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description="driftloop's single-node Kubernetes")
    p.add_argument("action", choices=["up", "down", "status"])
    a = p.parse_args()
    try:
        if a.action == "up":
            up()
        elif a.action == "down":
            down()
        else:
            for name in SERVICES:
                print(f"{name:24} {'running pid ' + str(alive(name)) if alive(name) else 'stopped'}")
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
