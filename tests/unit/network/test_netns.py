"""Persistent network namespaces (root)."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from pouch.errors import Internal
from pouch.network import netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def ns_dir(tmp_path):
    d = str(tmp_path / "netns")
    yield d
    for name in os.listdir(d) if os.path.isdir(d) else ():
        netns.delete_netns(os.path.join(d, name))
    netns.release_netns_dir(d)


def _nsfs_mounts() -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if " - nsfs " in line)


def test_create_exists_delete(ns_dir):
    before = _nsfs_mounts()
    path = os.path.join(ns_dir, "c1")
    netns.create_netns(path)
    assert netns.netns_exists(path)
    assert _nsfs_mounts() == before + 1
    out = subprocess.run(["nsenter", f"--net={path}", "ip", "-o", "link"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and "lo: <LOOPBACK,UP,LOWER_UP>" in lines[0]
    # a different namespace from ours
    assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino
    netns.delete_netns(path)
    assert not os.path.exists(path) and not netns.netns_exists(path)
    assert _nsfs_mounts() == before
    netns.delete_netns(path)  # idempotent


def test_netns_dir_is_a_shared_mount(ns_dir):
    netns.create_netns(os.path.join(ns_dir, "c1"))
    out = subprocess.run(["findmnt", "-n", "-o", "PROPAGATION", ns_dir], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "shared"


def test_create_twice_is_an_error_and_keeps_the_first(ns_dir):
    path = os.path.join(ns_dir, "c1")
    netns.create_netns(path)
    with pytest.raises(Internal, match="already exists"):
        netns.create_netns(path)
    assert netns.netns_exists(path)


def test_plain_file_is_not_a_netns(ns_dir, tmp_path):
    stray = tmp_path / "stray"
    stray.write_text("")
    assert not netns.netns_exists(str(stray))
    assert not netns.netns_exists(str(tmp_path / "missing"))
    netns.delete_netns(str(stray))
    assert not stray.exists()


def test_run_in_netns_sees_only_lo(ns_dir):
    path = os.path.join(ns_dir, "c1")
    netns.create_netns(path)
    names = netns.run_in_netns(path, lambda: [n for _, n in socket.if_nameindex()])
    assert names == ["lo"]
    assert "lo" in [n for _, n in socket.if_nameindex()] and len(socket.if_nameindex()) >= 1


def test_create_is_fast(ns_dir):
    netns.create_netns(os.path.join(ns_dir, "warm"))
    t0 = time.perf_counter()
    for i in range(20):
        netns.create_netns(os.path.join(ns_dir, f"c{i}"))
    for i in range(20):
        netns.delete_netns(os.path.join(ns_dir, f"c{i}"))
    assert (time.perf_counter() - t0) / 20 < 0.05
