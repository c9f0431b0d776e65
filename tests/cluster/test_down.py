"""`make cluster-down` leaves no process, mount, netns, iptables chain, cgroup or bridge behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import cluster  # noqa: E402


def test_down_leaves_nothing() -> None:
    p = subprocess.run([sys.executable, str(HERE / "cluster.py"), "down"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert cluster.leftovers() == []
    assert not cluster.DATA.exists() and not cluster.RUN.exists()


def test_leftovers_sees_a_stray_bridge() -> None:
    """The check can fail: a bridge named like ours is reported until it is removed."""
    subprocess.run(["ip", "link", "add", cluster.BRIDGE, "type", "bridge"], check=True)
    try:
        assert f"bridge {cluster.BRIDGE}" in cluster.leftovers()
    finally:
        subprocess.run(["ip", "link", "del", cluster.BRIDGE], check=True)
    assert cluster.leftovers() == []
