import io
import os

import pytest
from image_test_tools import directory, file, make_tar, sha

from pouch.errors import InvalidArgument, NotFound
from pouch.metadata.db import Database
from pouch.mount import (
    MS_BIND,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    is_mountpoint,
    mount,
    mounted,
    overlay_options,
    parse_options,
    unmount,
)
from pouch.snapshots.overlay import OverlaySnapshotter, chain_id, chain_ids

L1 = make_tar([directory("etc/"), file("etc/motd", b"hello"), file("etc/keep", b"k"), directory("data/"), file("data/old", b"o")])
L2 = make_tar([file("etc/.wh.motd"), file("etc/new", b"n"), directory("data/"), file("data/.wh..wh..opq"),
               file("data/fresh", b"f")])


@pytest.fixture
def snap(tmp_path):
    db = Database(str(tmp_path / "db.sqlite"))
    yield OverlaySnapshotter(db, str(tmp_path / "snapshots"))
    db.close()


def test_chain_ids_follow_the_image_spec():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    import hashlib

    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]
    assert chain_id("", a) == a


def test_apply_once_and_reuse(snap):
    c1 = snap.apply_layer("", io.BytesIO(L1), diff_id=sha(L1))
    assert c1 == sha(L1)
    row = snap.stat(c1)
    assert os.path.isfile(os.path.join(snap.root, row.dir, "fs", "etc", "motd"))

    class Exploding(io.BytesIO):
        def read(self, *a):
            raise AssertionError("should not be read")

    assert snap.apply_layer("", Exploding(), diff_id=sha(L1)) == c1
    # Without diff_id the layer is unpacked, found known and discarded.
    before = sorted(os.listdir(snap.root))
    assert snap.apply_layer("", io.BytesIO(L1)) == c1
    assert sorted(os.listdir(snap.root)) == before


def test_wrong_diff_id_commits_nothing(snap):
    with pytest.raises(InvalidArgument):
        snap.apply_layer("", io.BytesIO(L1), diff_id=sha(L2))
    assert [n for n in os.listdir(snap.root) if n not in ("containers", "empty")] == []
    with pytest.raises(NotFound):
        snap.apply_layer("sha256:" + "c" * 64, io.BytesIO(L1))


def test_overlay_mount_of_two_layers_with_whiteouts(snap, tmp_path):
    c1 = snap.apply_layer("", io.BytesIO(L1), diff_id=sha(L1))
    c2 = snap.apply_layer(c1, io.BytesIO(L2), diff_id=sha(L2))
    m = snap.rootfs_mount(c2, "ctr1")
    assert m.type == "overlay"
    lower = [o for o in m.options if o.startswith("lowerdir=")][0]
    assert lower == "lowerdir=" + ":".join(snap.lowerdirs(c2))
    assert snap.lowerdirs(c2)[0].endswith(f"/{snap.stat(c2).dir}/fs")  # top first
    target = tmp_path / "rootfs"
    target.mkdir()
    with mounted(m, str(target)):
        assert is_mountpoint(str(target))
        assert not (target / "etc/motd").exists()
        assert (target / "etc/keep").read_bytes() == b"k"
        assert (target / "etc/new").read_bytes() == b"n"
        assert sorted(os.listdir(target / "data")) == ["fresh"]
        (target / "written").write_text("rw")
    assert not is_mountpoint(str(target))
    assert (tmp_path / "snapshots/containers/ctr1/upper/written").read_text() == "rw"
    # layers themselves are untouched
    assert "written" not in os.listdir(snap.lowerdirs(c2)[0])


def test_single_layer_image_mounts_with_upper(snap, tmp_path):
    c1 = snap.apply_layer("", io.BytesIO(L1), diff_id=sha(L1))
    m = snap.rootfs_mount(c1, "one")
    assert any(o.startswith("upperdir=") for o in m.options)
    target = tmp_path / "r"
    target.mkdir()
    with mounted(m, str(target)):
        (target / "etc/motd").write_text("changed")
    assert (tmp_path / "snapshots/containers/one/upper/etc/motd").read_text() == "changed"
    assert open(os.path.join(snap.lowerdirs(c1)[0], "etc/motd")).read() == "hello"


def test_remove_unused_keeps_used_and_rw_parents(snap):
    c1 = snap.apply_layer("", io.BytesIO(L1), diff_id=sha(L1))
    c2 = snap.apply_layer(c1, io.BytesIO(L2), diff_id=sha(L2))
    other = make_tar([file("z", b"z")])
    c3 = snap.apply_layer("", io.BytesIO(other))
    snap.rootfs_mount(c2, "user")  # a container stacked on c2
    assert snap.remove_unused([]) == [c3]
    snap.remove_rw("user")
    assert snap.remove_unused([]) == [c2, c1]  # top first
    assert [n for n in os.listdir(snap.root) if n not in ("containers", "empty")] == []


def test_invalid_container_key(snap):
    with pytest.raises(InvalidArgument):
        snap.prepare_rw("../x")


def test_parse_mount_options():
    p = parse_options(("rbind", "ro", "rprivate", "size=64m", "mode=1777"))
    assert p.flags == MS_BIND | MS_REC | MS_RDONLY and p.propagation == MS_PRIVATE | MS_REC
    assert p.data == "size=64m,mode=1777"
    assert overlay_options(["/a", "/b"], "/u", "/w") == ("lowerdir=/a:/b", "upperdir=/u", "workdir=/w")
    with pytest.raises(InvalidArgument):
        overlay_options(["/a:b"])
    with pytest.raises(InvalidArgument):
        overlay_options([])


def test_bind_ro_mount_and_errors_name_the_path(tmp_path):
    from pouch.errors import Internal
    from pouch.types import Mount

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "f").write_text("x")
    mount(Mount("bind", str(src), "/x", ("bind", "ro")), str(dst))
    try:
        assert is_mountpoint(str(dst))  # same filesystem, still detected
        assert (dst / "f").read_text() == "x"
        with pytest.raises(OSError):
            (dst / "g").write_text("y")
    finally:
        unmount(str(dst))
    with pytest.raises(Internal) as exc:
        unmount(str(dst))
    assert str(dst) in exc.value.message
