"""Starting the embedded stack: a service that dies while `up` waits for it is named with what it said last,
and the tests' own port draws never reach the kernel's ephemeral range (where a SeaweedFS gRPC twin could be
taken by any client socket between the free-port check and weed's bind — a CI failure seen once)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from driftloop.errors import ServiceError
from driftloop.local.embedded import EmbeddedService, EmbeddedStack
from tests import conftest


def test_a_service_that_exited_while_waited_for_is_named_with_its_last_line(tmp_path: Path) -> None:
    svc = EmbeddedService(
        name="s3",
        argv=["sh", "-c", "echo starting; echo 'bind: address already in use'; exit 3"],
        endpoint="127.0.0.1:1",
        ports={},
        log_path=tmp_path / "logs" / "s3.log",
    )
    svc.start()
    deadline = time.monotonic() + 10
    while svc.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ServiceError) as err:
        EmbeddedStack._raise_if_exited(SimpleNamespace(services=[svc]))  # type: ignore[arg-type]
    assert "embedded s3 exited at start: bind: address already in use" in str(err.value)
    assert str(svc.log_path) in err.value.hint
    svc.stop(0.1)


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_test_ports_and_their_weed_twins_stay_apart_and_below_the_ephemeral_range(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ranges = []
    for index in range(workers):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
        ranges.append(conftest._port_range())
    ports = [set(range(low, high + 1)) for low, high in ranges]
    twins = set().union(*({p + 10000 for p in r} for r in ports))
    for i, r in enumerate(ports):
        assert not r & twins
        assert all(not r & other for other in ports[i + 1 :])
    assert max(twins) < ephemeral_low
