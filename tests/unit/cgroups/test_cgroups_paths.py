"""pouch.cgroups.paths: the cgroup layout from mountinfo and a container's cgroup dirs."""

from __future__ import annotations

import pytest

from pouch.cgroups.paths import cgroups_path_for, parse_layout
from pouch.errors import InvalidArgument

HYBRID = """\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids
"""
V2 = "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_hybrid_layout_is_v1():
    layout = parse_layout(HYBRID)
    assert layout.version == 1
    assert layout.v1 == {"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct",
                         "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "pids": "/sys/fs/cgroup/pids"}
    assert layout.dir("memory", "/pouch/abc") == "/sys/fs/cgroup/memory/pouch/abc"
    assert layout.dir("cpuacct", "/pouch/abc") == "/sys/fs/cgroup/cpu,cpuacct/pouch/abc"
    assert layout.dir("blkio", "/pouch/abc") == ""


def test_pure_v2_layout():
    layout = parse_layout(V2)
    assert layout.version == 2
    assert layout.dir("memory", "/pouch/abc") == layout.dir("pids", "/pouch/abc") == "/sys/fs/cgroup/pouch/abc"


def test_cgroups_path():
    assert cgroups_path_for("abc") == "/pouch/abc"
    assert cgroups_path_for("abc", "mine/sub") == "/mine/sub/abc"
    assert cgroups_path_for("abc", "/mine/") == "/mine/abc"
    with pytest.raises(InvalidArgument, match="--cgroup-parent"):
        cgroups_path_for("abc", "../escape")
