"""Hostile layers against a real pouchd (issue 12): a 10 GiB sparse file in a tiny tar unpacks
sparse, and a gzip of gigabytes of zeros is refused at ``--max-layer-size`` with a clear error,
without filling the disk and leaving nothing in the store."""

from __future__ import annotations

import gzip
import os
import subprocess
import tarfile

import pytest

from tests.integration.conftest import running_daemon
from tests.integration.test_crash_gc import store_bytes

GiB = 1024**3


@pytest.fixture
def limited_daemon(tmp_path, busybox_tar):
    with running_daemon(str(tmp_path / "d"), busybox_tar, extra_args=("--max-layer-size", "64m")) as d:
        yield d


def zero_bomb(path: str, total: int) -> None:
    """A gzip of a tar with one file of ``total`` zeros (concatenated gzip members: a few MB)."""
    mib = gzip.compress(b"\0" * (1024 * 1024), compresslevel=9)
    info = tarfile.TarInfo("zeros")
    info.size = total
    with open(path, "wb") as f:
        f.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(total // (1024 * 1024)):
            f.write(mib)
        f.write(gzip.compress(b"\0" * 1024))


def test_zero_bomb_is_refused_and_leaves_nothing(limited_daemon, tmp_path):
    d = limited_daemon
    bomb = str(tmp_path / "bomb.tar.gz")
    zero_bomb(bomb, 5 * GiB)
    assert os.path.getsize(bomb) < 8 * 1024 * 1024
    snapshots = os.path.join(d.root, "snapshots")
    before, layers = store_bytes(d.root), sorted(os.listdir(snapshots))
    result = d.cli("import", bomb, "bomb:1", check=False)
    assert result.returncode == 1
    assert "passes the limit of 64 MiB (pouchd --max-layer-size)" in result.stderr
    assert d.root not in result.stderr  # no host path in the message
    assert store_bytes(d.root) - before < 1024 * 1024
    assert d.cli("image", "inspect", "bomb:1", check=False).returncode != 0
    assert sorted(os.listdir(snapshots)) == layers  # the partial snapshot is gone


def test_sparse_file_stays_sparse(limited_daemon, tmp_path):
    d = limited_daemon
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "big", "wb") as f:
        f.truncate(10 * GiB)
        f.write(b"secret-start")
    tar = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "--format=posix", "--sparse-version=1.0", "-C", str(src), "-cf", str(tar),
                    "big"], check=True)
    os.unlink(src / "big")
    assert os.path.getsize(tar) < 2 * 1024 * 1024
    before = store_bytes(d.root)
    d.cli("import", str(tar), "sparse:1")
    assert store_bytes(d.root) - before < 8 * 1024 * 1024
    found = [os.path.join(dirpath, "big") for dirpath, _d, files in os.walk(os.path.join(d.root, "snapshots"))
             if "big" in files]
    assert len(found) == 1
    st = os.stat(found[0])
    assert st.st_size == 10 * GiB and st.st_blocks * 512 < 1024 * 1024
