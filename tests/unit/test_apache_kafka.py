"""`kafka.engine: apache` without what it needs: `driftloop up` refuses in one line that names the command
installing it, and starts nothing (no broker is run here: these checks come before any start)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from driftloop.errors import ServiceError
from driftloop.local.apache_kafka import find_libs, server_properties
from tests.conftest import apache_overrides, cli_env, driftloop
from tests.unit.test_cli import assert_one_line_error


def _up(tmp_path: Path, **extra: object) -> tuple[dict[str, str], Path]:
    data_dir = tmp_path / "data"
    env = cli_env({**apache_overrides(data_dir), "s3.endpoint_url": "http://127.0.0.1:1", **extra})
    return env, data_dir


def test_up_without_the_jars_names_make_kafka_and_starts_nothing(tmp_path: Path) -> None:
    env, data_dir = _up(tmp_path, **{"embedded.kafka_libs": str(tmp_path / "no-libs")})
    proc = driftloop("up", "--services-only", "--once", env=env, cwd=tmp_path)
    assert_one_line_error(proc, 1, "Apache Kafka's jars are not installed", "make kafka")
    assert not (data_dir / "kafka").exists() and not (data_dir / "stack.json").exists()


def test_up_without_java_says_so_and_starts_nothing(tmp_path: Path) -> None:
    env, data_dir = _up(tmp_path)
    env.pop("JAVA_HOME", None)
    bin_dir = tmp_path / "bin"  # a PATH with everything of the real one but java
    bin_dir.mkdir()
    for name in ("sh", "env"):
        if found := shutil.which(name):
            os.symlink(found, bin_dir / name)
    env["PATH"] = str(bin_dir)
    proc = driftloop("up", "--services-only", "--once", env=env, cwd=tmp_path)
    assert_one_line_error(proc, 1, "java is not installed", "JDK 17", "kafka.engine=tansu")
    assert not (data_dir / "stack.json").exists()


def test_up_with_a_java_older_than_17_says_so(tmp_path: Path) -> None:
    env, data_dir = _up(tmp_path)
    jdk = tmp_path / "jdk-11"  # what a JDK 11 looks like to the check: its release file
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (jdk / "bin" / "java").chmod(0o755)
    (jdk / "release").write_text('IMPLEMENTOR="Test"\nJAVA_VERSION="11.0.2"\n')
    env["JAVA_HOME"] = str(jdk)
    proc = driftloop("up", "--services-only", "--once", env=env, cwd=tmp_path)
    assert_one_line_error(proc, 1, "is Java 11", "needs Java 17", "kafka.engine=tansu")
    assert not (data_dir / "stack.json").exists()


def test_find_libs_looks_in_the_configured_directory_only(tmp_path: Path) -> None:
    (tmp_path / "kafka_2.13-4.1.1.jar").write_bytes(b"")
    assert find_libs(str(tmp_path)) == tmp_path.resolve()
    try:
        find_libs(str(tmp_path / "elsewhere"))
    except ServiceError as exc:
        assert "make kafka" in str(exc)
    else:
        raise AssertionError("a directory without kafka_2.13-*.jar was accepted")


def test_one_node_kraft_configuration() -> None:
    props = dict(
        line.split("=", 1) for line in server_properties("127.0.0.1", 1234, 1235, Path("/d")).splitlines()
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:1235"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert props["offsets.topic.replication.factor"] == "1" and props["log.dirs"] == "/d"


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch) -> None:
    """Kafka's storage tool reads ``-t -abc…`` as an option and exits 1: one format in 64 failed that way."""
    from driftloop.local import apache_kafka

    draws = iter([b"\xf8" + b"\x00" * 15, b"\x00" * 16])  # the first encodes to "-A…", the second does not
    monkeypatch.setattr(apache_kafka.os, "urandom", lambda n: next(draws))
    assert apache_kafka._cluster_id() == "A" * 22


def test_a_failed_format_says_what_the_tool_said(tmp_path: Path) -> None:
    """The one-line error carries the storage tool's last line, not only the log's path."""
    from driftloop.local import apache_kafka

    broken = tmp_path / "server.properties"
    broken.write_text("process.roles=broker,controller\n")  # no node.id, no log.dirs: the tool refuses it
    log = tmp_path / "kafka.log"
    log4j = tmp_path / "log4j2.properties"
    log4j.write_text(apache_kafka._LOG4J2)
    java, libs = apache_kafka.java_bin(), find_libs()  # no jars: ServiceError naming `make kafka`
    try:
        apache_kafka._format(java, libs, broken, log4j, log)
    except ServiceError as exc:
        assert "exit 1: " in str(exc) and str(log) in str(exc)
        assert "\n" not in str(exc)
    else:
        raise AssertionError("the storage tool accepted a configuration without node.id")
