"""pouchd killed by PID during ``import``, ``load`` and ``pull`` of a large image: the restart
leaves no byte of it in the store, and ``image prune`` collects what no record references
(issue 12: a 303 MB blob stayed in the content store and no prune ever removed it).

Each test syncs on the files the operation writes (a new blob in the content store, the
load's spool in tmp/), kills pouchd with SIGKILL, starts it again on the same root and
compares the store's disk usage with what it was before the operation.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile

import pytest

from tests.integration.conftest import POUCH, needs_registry, wait_until

BIG = 192 * 1024 * 1024
SLACK = 4 * 1024 * 1024  # the database and its WAL may grow a little


@pytest.fixture(scope="module")
def big_tar(tmp_path_factory) -> str:
    """A rootfs tar with one incompressible 192 MiB file."""
    base = tmp_path_factory.mktemp("big")
    data = base / "data"
    with open(data, "wb") as f:
        for _ in range(BIG // (4 * 1024 * 1024)):
            f.write(os.urandom(4 * 1024 * 1024))
    path = str(base / "big.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(str(data), arcname="big")
    os.unlink(data)
    return path


def store_bytes(root: str) -> int:
    """Disk usage of the daemon's root (allocated blocks), not entering other filesystems."""
    dev, total, seen = os.lstat(root).st_dev, 0, set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [n for n in dirnames if os.lstat(os.path.join(dirpath, n)).st_dev == dev]
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def blobs(root: str) -> set[str]:
    return set(os.listdir(os.path.join(root, "content", "blobs", "sha256")))


def kill_during(d, argv: list[str], ready, what: str) -> None:
    """Run ``pouch ARGV``, kill pouchd by PID once ``ready()``, then start it again."""
    proc = subprocess.Popen([POUCH, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=d.env)
    try:
        wait_until(ready, timeout=120, interval=0.002, what=what)
        assert proc.poll() is None, "the operation ended before pouchd could be killed"
        d.kill9()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    d.start()


def assert_no_leftovers(d, before: int, image: str) -> None:
    assert d.cli("image", "inspect", image, check=False).returncode != 0
    after = store_bytes(d.root)
    assert after - before < SLACK, f"{(after - before) // 1024} KiB left in the store"
    assert os.listdir(os.path.join(d.root, "content", "ingest")) == []
    assert os.listdir(os.path.join(d.root, "tmp")) == []


def test_kill_during_import_leaves_nothing(fresh_daemon, big_tar):
    d = fresh_daemon
    before, known = store_bytes(d.root), blobs(d.root)
    kill_during(d, ["import", big_tar, "big:import"], lambda: blobs(d.root) - known,
                "the layer blob in the content store (unpack under way)")
    assert_no_leftovers(d, before, "big:import")
    d.cli("import", big_tar, "big:import")  # and the store still works
    assert d.inspect("big:import")["Size"] >= BIG


def test_kill_during_load_leaves_nothing(fresh_daemon, big_tar, tmp_path):
    d = fresh_daemon
    d.cli("import", big_tar, "big:load")
    archive = str(tmp_path / "big-save.tar")
    d.cli("save", "-o", archive, "big:load", timeout=120)
    d.cli("rmi", "big:load")
    before = store_bytes(d.root)
    tmp = os.path.join(d.root, "tmp")

    def spooling() -> bool:
        return any(os.path.getsize(os.path.join(dirpath, f)) > BIG // 2
                   for dirpath, _dirs, files in os.walk(tmp) for f in files)

    kill_during(d, ["load", "-i", archive], spooling, "the load's spool half written")
    assert_no_leftovers(d, before, "big:load")
    known = blobs(d.root)
    kill_during(d, ["load", "-i", archive], lambda: blobs(d.root) - known, "the layer blob (unpack under way)")
    assert_no_leftovers(d, before, "big:load")
    assert "big:load" in d.cli("load", "-i", archive, timeout=120).stdout


@needs_registry
def test_kill_during_pull_leaves_nothing(fresh_daemon, big_tar, registry):
    d = fresh_daemon
    ref = f"{registry.host}/big:pull"
    d.cli("import", big_tar, ref)
    d.cli("push", ref, timeout=300)
    d.cli("rmi", ref)
    before, known = store_bytes(d.root), blobs(d.root)
    kill_during(d, ["pull", ref], lambda: blobs(d.root) - known, "the downloaded layer (unpack under way)")
    assert_no_leftovers(d, before, ref)
    d.cli("pull", ref, timeout=300)
    assert d.cli("image", "inspect", ref, check=False).returncode == 0


def test_image_prune_collects_what_no_record_references(fresh_daemon):
    d = fresh_daemon
    before = store_bytes(d.root)
    junk = os.urandom(8 * 1024 * 1024)
    orphan = os.path.join(d.root, "content", "blobs", "sha256", hashlib.sha256(junk).hexdigest())
    with open(orphan, "wb") as f:
        f.write(junk)
    partial = os.path.join(d.root, "content", "ingest", "e" * 64 + ".partial")  # a pull cut off, never retried
    with open(partial, "wb") as f:
        f.write(junk)
    ghost = os.path.join(d.root, "containers", "d" * 64)  # a container dir whose record is gone
    os.makedirs(os.path.join(ghost, "rootfs"))
    with open(os.path.join(ghost, "big"), "wb") as f:
        f.write(junk)
    os.utime(ghost, (0, 0))
    out = d.cli("image", "prune", "-f").stdout
    assert not os.path.exists(orphan) and not os.path.exists(partial) and not os.path.exists(ghost)
    assert "Total reclaimed space: 25" in out, out  # 3 x 8 MiB
    assert store_bytes(d.root) - before < SLACK
    assert d.cli("run", "--rm", "busybox", "true").returncode == 0
