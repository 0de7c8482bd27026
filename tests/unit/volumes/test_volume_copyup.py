"""Copy-up of the image's content into an empty volume: owners, modes, links kept, nothing followed out."""

from __future__ import annotations

import os
import stat

import pytest

from pouch.volumes.copyup import copy_up

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="copy-up keeps owners: needs root")


@pytest.fixture
def trees(tmp_path):
    rootfs, volume, outside = tmp_path / "rootfs", tmp_path / "vol", tmp_path / "outside"
    for d in (rootfs, volume, outside):
        d.mkdir()
    (outside / "secret").write_text("host secret")
    data = rootfs / "srv" / "data"
    (data / "sub").mkdir(parents=True)
    (data / "f").write_text("image content")
    os.chown(data / "f", 1000, 1001)
    os.chmod(data / "f", 0o640)
    os.chmod(data / "sub", 0o4755 & 0o777 | 0o1000)  # sticky dir
    os.symlink(str(outside / "secret"), data / "abs-link")
    os.symlink("../../../outside/secret", data / "rel-link")
    os.mkfifo(data / "fifo")
    os.chown(data, 33, 33)
    os.chmod(data, 0o750)
    os.utime(data / "f", ns=(1_000_000_000, 2_000_000_000))
    return rootfs, volume, outside


def test_owners_modes_times_and_links_are_kept(trees):
    rootfs, volume, _ = trees
    assert copy_up(str(rootfs), "/srv/data", str(volume))
    f = os.stat(volume / "f")
    assert (volume / "f").read_text() == "image content"
    assert (f.st_uid, f.st_gid, stat.S_IMODE(f.st_mode), f.st_mtime_ns) == (1000, 1001, 0o640, 2_000_000_000)
    root = os.stat(volume)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (33, 33, 0o750)
    assert stat.S_IMODE(os.stat(volume / "sub").st_mode) == 0o1755
    assert os.readlink(volume / "abs-link").endswith("/outside/secret")  # a link, not the host file's content
    assert os.path.islink(volume / "rel-link")
    assert stat.S_ISFIFO(os.lstat(volume / "fifo").st_mode)


def test_nothing_copied_into_a_volume_with_content(trees):
    rootfs, volume, _ = trees
    (volume / "mine").write_text("keep")
    assert not copy_up(str(rootfs), "/srv/data", str(volume))
    assert os.listdir(volume) == ["mine"]


def test_missing_path_or_file_copies_nothing(trees):
    rootfs, volume, _ = trees
    assert not copy_up(str(rootfs), "/nope", str(volume))
    assert not copy_up(str(rootfs), "/srv/data/f", str(volume))
    assert os.listdir(volume) == []


def test_a_symlinked_mount_path_stays_in_the_rootfs(trees):
    """The image's /data -> /etc... must resolve to the rootfs's, never the host's."""
    rootfs, volume, outside = trees
    os.symlink(str(outside), rootfs / "escape")  # absolute: taken relative to the rootfs
    assert not copy_up(str(rootfs), "/escape", str(volume))
    os.symlink("../../..", rootfs / "srv" / "up")
    assert copy_up(str(rootfs), "/srv/up/srv/data", str(volume))  # .. stops at the rootfs: /srv/data
    assert (volume / "f").read_text() == "image content"
    assert not (volume / "secret").exists()
