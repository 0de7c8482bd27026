"""Bounded layer unpacking (issue 12): sparse members stay sparse, a layer whose unpacked size
passes the limit is refused before it fills the disk, and nothing of it is left."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import zlib

import pytest

from pouch.archive import unpack_into, unpack_layer
from pouch.config import DaemonConfig
from pouch.engine import containers_using
from pouch.errors import InvalidArgument
from pouch.images.service import ImageService
from pouch.metadata.db import Database

GiB = 1024**3
SPARSE_SIZE = 10 * GiB


def sparse_tar(tmp_path, fmt: list[str]) -> bytes:
    """GNU tar's archive of a 10 GiB file with two small data runs (old GNU or PAX 1.0 sparse)."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    big = src / "big"
    with open(big, "wb") as f:
        f.truncate(SPARSE_SIZE)
        f.write(b"head")
        f.seek(5 * GiB)
        f.write(b"middle" * 1000)
    out = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", *fmt, "-C", str(src), "-cf", str(out), "big"], check=True)
    big.unlink()
    return out.read_bytes()


@pytest.mark.parametrize("fmt", [["--format=gnu"], ["--format=posix", "--sparse-version=1.0"],
                                 ["--format=posix", "--sparse-version=0.1"]], ids=["gnu", "pax-1.0", "pax-0.1"])
def test_sparse_files_stay_sparse(tmp_path, fmt):
    data = sparse_tar(tmp_path, fmt)
    assert len(data) < 2 * 1024 * 1024
    dest = tmp_path / "layer"
    result = unpack_layer(io.BytesIO(data), str(dest), max_bytes=GiB)  # its data is small: the limit is no bar
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    st = os.stat(dest / "big")
    assert st.st_size == SPARSE_SIZE
    assert st.st_blocks * 512 < 4 * 1024 * 1024
    with open(dest / "big", "rb") as f:
        assert f.read(4) == b"head"
        f.seek(5 * GiB)
        assert f.read(6000) == b"middle" * 1000
        f.seek(3 * GiB)
        assert f.read(10) == b"\0" * 10


def zero_bomb(total: int, files: int = 1) -> bytes:
    """A gzip of a tar holding ``files`` files of zeros, ``total`` bytes in all: concatenated gzip
    members of one compressed MiB, so a few MB stand for gigabytes."""
    mib = gzip.compress(b"\0" * (1024 * 1024), compresslevel=9)
    out = io.BytesIO()
    each = total // files
    for index in range(files):
        info = tarfile.TarInfo(f"zero{index}")
        info.size = each
        out.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
        out.write(mib * (each // (1024 * 1024)))
    out.write(gzip.compress(b"\0" * 1024))  # end of archive
    return out.getvalue()


def test_zero_bomb_is_refused_at_the_limit_and_leaves_nothing(tmp_path):
    bomb = zero_bomb(5 * GiB)
    assert len(bomb) < 8 * 1024 * 1024
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bomb[:200])[:5] == b"zero0"
    with pytest.raises(InvalidArgument, match=r"passes the limit of 64 MiB \(pouchd --max-layer-size\)"):
        unpack_layer(io.BytesIO(bomb), str(tmp_path / "layer"), max_bytes=64 * 1024 * 1024)
    assert os.listdir(tmp_path) == []


def test_many_files_add_up_to_the_limit(tmp_path):
    bomb = zero_bomb(256 * 1024 * 1024, files=16)  # 16 MiB each: the fifth passes 64 MiB
    with pytest.raises(InvalidArgument, match="passes the limit"):
        unpack_layer(io.BytesIO(bomb), str(tmp_path / "layer"), max_bytes=64 * 1024 * 1024)
    assert os.listdir(tmp_path) == []


def test_free_space_bounds_the_layer(tmp_path):
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    info = tarfile.TarInfo("huge")
    info.size = free + GiB
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    with pytest.raises(InvalidArgument, match="free space"):
        unpack_layer(io.BytesIO(header + b"\0" * 4096), str(tmp_path / "layer"), max_bytes=0)
    assert os.listdir(tmp_path) == []


def test_import_of_a_bomb_stores_nothing(tmp_path):
    cfg = DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"), max_layer_size=64 * 1024 * 1024)
    db = Database(cfg.db_path)
    try:
        images = ImageService(db, cfg, containers_using=containers_using(db))
        with pytest.raises(InvalidArgument, match="passes the limit of 64 MiB"):
            images.import_rootfs(io.BytesIO(zero_bomb(5 * GiB)), "bomb:1")
        assert images.content.list() == [] and os.listdir(images.content.ingest_dir) == []
        assert db.query("SELECT * FROM snapshots") == []
        assert sorted(os.listdir(images.snapshots.root)) == ["containers", "empty"]
    finally:
        db.close()


def test_any_archive_is_bounded_by_the_free_space(tmp_path):
    """A build context or an ADD-ed tar (``unpack_into`` without a budget) cannot fill the disk."""
    st = os.statvfs(tmp_path)
    info = tarfile.TarInfo("huge")
    info.size = st.f_bavail * st.f_frsize + GiB
    target = tmp_path / "context"
    target.mkdir()
    with pytest.raises(InvalidArgument, match="refusing archive: unpacking it needs more than the free space"):
        unpack_into(io.BytesIO(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 4096), str(target))
    assert os.listdir(target) == []
