"""Apache Kafka (KRaft, one node as broker and controller) as the local broker: ``kafka.engine: apache``.

The broker runs from Apache Kafka's own jars, copied from Maven Central by ``make kafka`` into the
repository's ``.bin/kafka/libs`` (the version is pinned in tests/engines/kafka/pom.xml), on the machine's
Java 17+. Its log lives on disk under ``<data_dir>/kafka`` and so survives a crash and a restart, like
Tansu's S3 storage.

``EmbeddedStack`` runs it as an ``EmbeddedService`` (own process group, dies with its parent, logs to
``<data_dir>/logs/kafka.log``); before its first start the log directory is formatted (``kafka-storage
format``) with a fresh cluster id. Listeners: PLAINTEXT on ``embedded.kafka_port`` and CONTROLLER on
``embedded.kafka_controller_port``, both on ``embedded.host``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

from driftloop.config import Settings
from driftloop.errors import ConfigError, ServiceError

__all__ = ["INSTALL_HINT", "ApacheKafka", "find_libs", "java_bin", "server_properties"]

INSTALL_HINT = "run `make kafka` in the driftloop checkout (or set kafka.engine=tansu)"
LIBS = Path(".bin") / "kafka" / "libs"
#: a small heap, the serial collector and C1 only: starts in seconds on 2 cores, plenty for local use
JVM_OPTS = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]
#: a clean broker stop (flushing the log, closing the quorum) needs a few seconds; never SIGKILL sooner
MIN_STOP_GRACE_S = 10.0
#: the in-JVM storage format takes ~7 s on an idle 2-core machine
FORMAT_TIMEOUT_S = 120.0

_LOG4J2 = """\
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def find_libs(configured: str = "") -> Path:
    """The directory of Apache Kafka's jars: ``configured`` (``embedded.kafka_libs``), else
    ``.bin/kafka/libs`` of the current directory or of the checkout driftloop is installed from (an
    editable install); ServiceError naming ``make kafka`` if there is none."""
    checkout = Path(__file__).resolve().parents[2]
    candidates = [Path(configured)] if configured else [Path.cwd() / LIBS, checkout / LIBS]
    for libs in candidates:
        if any(libs.glob("kafka_2.13-*.jar")):
            return libs.resolve()
    raise ServiceError(
        f"Apache Kafka's jars are not installed (no kafka_2.13-*.jar in {candidates[0]})", INSTALL_HINT
    )


def java_bin() -> str:
    """``$JAVA_HOME/bin/java``, else ``java`` on PATH; ServiceError when there is none, or when its JDK's
    ``release`` file says it is older than Java 17 (Kafka 4's broker needs 17)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").is_file() else None
    found = found or shutil.which("java")
    if not found:
        raise ServiceError(
            "java is not installed: kafka.engine=apache runs Apache Kafka on Java 17 or newer",
            "install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless), or set kafka.engine=tansu",
        )
    version = _java_version(Path(found).resolve().parent.parent / "release")
    if version is not None and version < 17:
        raise ServiceError(
            f"{found} is Java {version}: Apache Kafka 4 needs Java 17 or newer",
            "install a JDK 17+ and put it first on PATH (or set JAVA_HOME), or set kafka.engine=tansu",
        )
    return found


def _java_version(release: Path) -> int | None:
    """The major version a JDK's ``release`` file names (``JAVA_VERSION="17.0.15"``; ``"1.8.0_x"`` is 8)."""
    try:
        text = release.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            parts = line.split("=", 1)[1].strip().strip('"').split(".")
            major = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]
            return int(major) if major.isdigit() else None
    return None


def _cluster_id() -> str:
    """What ``kafka-storage random-uuid`` prints: 16 random bytes, base64url without padding — never starting
    with ``-`` (1 id in 64 would), which the storage tool's argument parser takes for an option and refuses
    with exit 1; Kafka's own ``Uuid.randomUuid`` draws again for the same reason."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(host: str, port: int, controller_port: int, log_dir: Path) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        # one node: every internal topic has one replica
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
        "num.partitions": "1",
        # a consumer group starts at once, as on Tansu (the default waits 3 s for more members)
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _format(java: str, libs: Path, config: Path, log4j: Path, log_path: Path) -> None:
    """``kafka-storage format`` with a new cluster id, unless the log directory already has one."""
    argv = [java, *JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]
    argv += [
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        "-t",
        _cluster_id(),
        "-c",
        str(config),
    ]
    with open(log_path, "ab") as log:
        try:
            done = subprocess.run(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=FORMAT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(
                f"formatting Apache Kafka's log directory failed ({exc})", f"see {log_path}"
            ) from exc
    if done.returncode != 0:
        said = last_log_line(log_path)
        what = f"exit {done.returncode}: {said}" if said else f"exit {done.returncode}"
        raise ServiceError(
            f"formatting Apache Kafka's log directory failed ({what})",
            f"see {log_path}",
        )


def last_log_line(log_path: Path, limit: int = 300) -> str:
    """The log's last non-empty line (what the storage tool said last), cut to ``limit`` characters."""
    try:
        with open(log_path, "rb") as log:
            log.seek(max(0, log_path.stat().st_size - 8192))
            lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:limit] if lines else ""


class ApacheKafka:
    """What ``EmbeddedStack`` needs to run the broker for ``kafka.engine: apache``: its command line, ports
    and log file, and ``prepare`` (run before each start). ServiceError, naming the command that installs
    what is missing, when there is no Java or no jars."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        e = settings.embedded
        self.java, self.libs = java_bin(), find_libs(e.kafka_libs)
        self.kafka_dir = data_dir / "kafka"
        self.log_dir = self.kafka_dir / "log"
        self.config = self.kafka_dir / "server.properties"
        self.log4j = self.kafka_dir / "log4j2.properties"
        self.log_path = data_dir / "logs" / "kafka.log"
        self.server_config = server_properties(e.host, e.kafka_port, e.kafka_controller_port, self.log_dir)
        self.ports = {
            e.kafka_port: "embedded.kafka_port",
            e.kafka_controller_port: "embedded.kafka_controller_port",
        }
        self.argv = [
            self.java,
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{self.libs}/*",
        ]
        self.argv += ["kafka.Kafka", str(self.config)]

    def prepare(self) -> None:
        """Write the configuration; format the log directory unless it is formatted (a restart keeps it)."""
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.config.write_text(self.server_config)
            self.log4j.write_text(_LOG4J2)
        except OSError as exc:
            raise ConfigError(
                f"cannot write {exc.filename or self.kafka_dir} ({exc.strerror or type(exc).__name__})",
                "choose a writable data_dir (--set data_dir=...)",
            ) from exc
        if not (self.log_dir / "meta.properties").exists():
            _format(self.java, self.libs, self.config, self.log4j, self.log_path)
