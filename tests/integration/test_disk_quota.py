"""``--disk-quota`` / ``--storage-opt size=``: the kernel stops a container writing past the limit
of its writable layer (pouch/snapshots/quota.py).

Each test of the enforcement makes a sparse file, a filesystem on it (ext4 with project
quotas; btrfs, whose qgroups pouchd turns on), loop-mounts it and runs a pouchd whose
``--root`` is there. Unmounted and detached in a ``finally``, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Daemon, mounts_below, running_daemon, wait_for

FS_SIZE = 256 << 20
WRITE_5M_THEN_20M = ("dd if=/dev/zero of=/five bs=1M count=5 && sync && echo wrote-5m; "
                     "dd if=/dev/zero of=/twenty bs=1M count=20; echo dd-exit=$?")


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True)


@contextlib.contextmanager
def loop_filesystem(base: str, kind: str) -> Iterator[str]:
    """A ``kind`` filesystem on a loop device, mounted on ``base/mnt``; skipped where the kernel
    or the tools lack what it needs."""
    image, mnt = os.path.join(base, f"{kind}.img"), os.path.join(base, "mnt")
    mkfs, mount_opts = {
        "ext4": (["mkfs.ext4", "-q", "-O", "quota,project", image], ["-o", "prjquota"]),
        "btrfs": (["mkfs.btrfs", "-q", image], []),
    }[kind]
    if not shutil.which(mkfs[0]):
        pytest.skip(f"{mkfs[0]} is not installed (scripts/install-deps.sh installs it)")
    os.makedirs(mnt)
    with open(image, "wb") as f:
        f.truncate(FS_SIZE)
    loop = ""
    try:
        made = _run(*mkfs)
        assert made.returncode == 0, made.stderr
        loop = _run("losetup", "-f", "--show", image).stdout.strip()
        assert loop, "losetup found no free loop device"
        mounted = _run("mount", *mount_opts, loop, mnt)
        if mounted.returncode != 0:
            dmesg = (_run("dmesg").stdout.strip().splitlines() or [mounted.stderr.strip()])[-1]
            pytest.skip(f"this kernel cannot mount {kind} {' '.join(mount_opts)}: {dmesg}")
        try:
            yield mnt
        finally:
            if _run("umount", mnt).returncode != 0:
                _run("umount", "-l", mnt)
    finally:
        if loop:
            _run("losetup", "-d", loop)
        os.unlink(image)


def _check_enforced(d: Daemon) -> None:
    # pouch run --disk-quota: 5 MiB fit, 20 MiB do not
    result = d.cli("run", "--rm", "--disk-quota", "10m", "busybox", "sh", "-c", WRITE_5M_THEN_20M, check=False)
    out = result.stdout + result.stderr
    assert "wrote-5m" in out, out
    assert "Disk quota exceeded" in out or "No space left on device" in out, out
    assert "dd-exit=1" in out, out
    # the docker CLI's --storage-opt size=
    result = d.docker("run", "--rm", "--storage-opt", "size=10m", "busybox", "sh", "-c",
                      "dd if=/dev/zero of=/twenty bs=1M count=20; echo dd-exit=$?", check=False)
    assert "Disk quota exceeded" in result.stdout + result.stderr or "No space left" in result.stderr, result
    assert "dd-exit=1" in result.stdout, result
    # no quota: the same 20 MiB are written
    result = d.cli("run", "--rm", "busybox", "sh", "-c", "dd if=/dev/zero of=/twenty bs=1M count=20 && echo ok")
    assert "ok" in result.stdout
    # inspect shows the quota both ways; rm leaves no quota directory behind
    d.cli("create", "--name", "quota1", "--disk-quota", "/=7m", "busybox")
    host = d.inspect("quota1")["HostConfig"]
    assert host["DiskQuota"] == {"/": "7m"} and host["StorageOpt"] == {"size": "7m"}
    assert json.loads(d.docker("inspect", "-f", "{{json .HostConfig.StorageOpt}}", "quota1").stdout) == {"size": "7m"}
    cid = d.inspect("quota1")["Id"]
    record = os.path.join(d.root, "containers", cid, "disk-quota.json")
    assert json.load(open(record))["limit"] == 7 << 20
    taken = d.cli("create", "--name", "quota1", "--disk-quota", "7m", "busybox", check=False)  # a 409 after the quota
    assert taken.returncode == 125 and "is already in use" in taken.stderr, taken.stderr   # was made: undone
    d.cli("rm", "quota1")
    assert not os.path.exists(os.path.dirname(record))
    rw_layers = os.path.join(d.root, "snapshots", "containers")
    assert wait_for(lambda: os.listdir(rw_layers) == []), os.listdir(rw_layers)  # --rm ones too, and the 409's


def test_ext4_project_quota_limits_the_writable_layer(tmp_path, busybox_tar):
    with loop_filesystem(str(tmp_path), "ext4") as mnt:
        with running_daemon(mnt, busybox_tar, ("--disk-quota",)) as d:
            _check_enforced(d)
            # two containers hold two project ids
            ids = []
            for name in ("p1", "p2"):
                d.cli("create", "--name", name, "--disk-quota", "1m", "busybox")
                record = os.path.join(d.root, "containers", d.inspect(name)["Id"], "disk-quota.json")
                ids.append(json.load(open(record))["id"])
            assert len(set(ids)) == 2 and min(ids) >= 100000


def _check_docker_py(d) -> None:
    """docker-py's storage_opt={"size": ...} is docker's --storage-opt: the same limit."""
    import docker

    client = docker.DockerClient(base_url=d.host)
    try:
        out = client.containers.run("busybox", ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=20 2>&1; echo rc=$?"],
                                    storage_opt={"size": "10m"}, remove=True)
        assert b"Disk quota exceeded" in out and b"rc=1" in out, out
    finally:
        client.close()


def test_btrfs_qgroup_limits_the_writable_layer(tmp_path, busybox_tar):
    with loop_filesystem(str(tmp_path), "btrfs") as mnt:
        with running_daemon(mnt, busybox_tar, ("--disk-quota",)) as d:  # pouchd turns btrfs quotas on
            _check_enforced(d)
            _check_docker_py(d)
            subvolumes = _run("btrfs", "subvolume", "list", mnt).stdout
            assert "snapshots/containers" not in subvolumes, subvolumes  # rm deleted them


def test_btrfs_without_quotas_is_a_400_naming_the_fix(tmp_path, busybox_tar):
    with loop_filesystem(str(tmp_path), "btrfs") as mnt:
        with running_daemon(mnt, busybox_tar) as d:  # no --disk-quota: quotas stay off
            result = d.cli("run", "--rm", "--disk-quota", "10m", "busybox", "true", check=False)
            assert result.returncode == 125
            root = os.path.join(mnt, "root")
            assert (f"pouchd --root {root} is on a filesystem without project quotas (btrfs: quotas are off): "
                    f"enable quotas: btrfs quota enable {root}") in result.stderr, result.stderr
            assert d.cli("ps", "-aq").stdout.strip() == ""  # nothing half-made


def test_without_quota_support_container_quota_is_a_400(daemon):
    # the shared daemon's root is in the test tmp dir, on a filesystem without project quotas here
    result = daemon.cli("run", "--rm", "--disk-quota", "10m", "busybox", "true", check=False)
    assert result.returncode == 125
    assert f"pouchd --root {daemon.root} is on a filesystem without project quotas" in result.stderr
    result = daemon.docker("run", "--rm", "--storage-opt", "size=10m", "busybox", "true", check=False)
    assert result.returncode == 125 and "without project quotas" in result.stderr
    result = daemon.cli("create", "--disk-quota", "ten", "busybox", check=False)
    assert "HostConfig.DiskQuota: invalid size 'ten'" in result.stderr
    result = daemon.docker("create", "--storage-opt", "dm.basesize=1g", "busybox", check=False)
    assert "HostConfig.StorageOpt: unknown option 'dm.basesize'" in result.stderr
    assert daemon.cli("ps", "-aq", "--filter", "status=created").stdout.strip() == ""


def test_pouchd_disk_quota_refuses_a_root_without_quotas(tmp_path):
    d = Daemon(str(tmp_path), extra_args=("--disk-quota",))
    with pytest.raises(RuntimeError) as failed:
        d.start()
    assert f"pouchd --disk-quota: pouchd --root {d.root} is on a filesystem without project quotas" in str(failed.value)
    assert mounts_below(str(tmp_path)) == []  # refused before anything was set up
