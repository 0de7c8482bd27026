"""Layer tars written from directories: whiteouts, opaque dirs, links, xattrs, determinism, no symlink following."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from pouch.archive import unpack_layer
from pouch.images.layertar import Action, Kind, Node, tar_entries, tar_stream, write_layer

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")


def _node(path: str, kind: Kind, mode: int = 0o644, **kw) -> Node:
    st = os.stat_result((mode, 1, 1, 1, 1000, 1000, 5, 0, 1_700_000_000, 0),
                        {"st_mtime_ns": 1_700_000_000 * 10**9, "st_rdev": 0})
    return Node(path, kind, st, **kw)


def test_whiteout_becomes_wh_entry():
    [info] = tar_entries(_node("/etc/gone", Kind.WHITEOUT))
    assert info.name == "etc/.wh.gone" and info.type == tarfile.REGTYPE and info.size == 0


def test_opaque_dir_gets_its_marker_after_it():
    entries = tar_entries(_node("/var/cache", Kind.DIR, mode=0o40755, opaque=True))
    assert [e.name for e in entries] == ["var/cache/", "var/cache/.wh..wh..opq"]
    assert entries[0].type == tarfile.DIRTYPE and entries[0].mode == 0o755


def test_numeric_owner_and_xattrs_as_pax():
    [info] = tar_entries(_node("/bin/ping", Kind.FILE, mode=0o100755, xattrs=(("security.capability", b"\x01\xff"),)))
    assert (info.uid, info.gid, info.uname, info.gname) == (1000, 1000, "", "")
    assert info.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == b"\x01\xff"


def test_hard_link_entry():
    [info] = tar_entries(_node("/b", Kind.FILE), hardlink_to="/a")
    assert info.type == tarfile.LNKTYPE and info.linkname == "a"


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def _tree(tmp_path):
    root = tmp_path / "upper"
    (root / "b" / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello")
    os.link(root / "a.txt", root / "b" / "hard")
    os.symlink("/etc/shadow", root / "escape")  # a symlink out of the root: stored, never followed
    os.symlink("/", root / "b" / "rootlink")
    os.mkfifo(root / "fifo")
    os.utime(root / "a.txt", ns=(1_600_000_000_500_000_000, 1_600_000_000_500_000_000))
    return root


def test_sorted_links_and_symlinks_are_not_followed(tmp_path):
    root = _tree(tmp_path)
    members = _members(b"".join(tar_stream(str(root), overlay=True)))
    names = [m.name for m in members]
    assert names == ["a.txt", "b", "b/hard", "b/rootlink", "b/sub", "escape", "fifo"]
    by_name = {m.name: m for m in members}
    assert by_name["b/hard"].islnk() and by_name["b/hard"].linkname == "a.txt"
    assert by_name["escape"].issym() and by_name["escape"].linkname == "/etc/shadow"
    assert by_name["fifo"].isfifo()
    assert by_name["a.txt"].mtime == pytest.approx(1_600_000_000.5)


def test_deterministic(tmp_path):
    root = _tree(tmp_path)
    assert b"".join(tar_stream(str(root), overlay=True)) == b"".join(tar_stream(str(root), overlay=True))


def test_select_skips_subtrees_and_empties_files(tmp_path):
    root = tmp_path / "r"
    (root / "skip" / "deep").mkdir(parents=True)
    (root / "skip" / "deep" / "f").write_text("x")
    (root / "id").write_text("secret")

    def select(node: Node) -> Action:
        return {"/skip": Action.SKIP, "/id": Action.EMPTY}.get(node.path, Action.KEEP)

    members = _members(b"".join(tar_stream(str(root), overlay=True, select=select)))
    assert [(m.name, m.size) for m in members] == [("id", 0)]


def test_empty_upper_is_an_empty_layer(tmp_path):
    (tmp_path / "u").mkdir()
    written = write_layer(str(tmp_path / "u"), str(tmp_path / "l.tar"))
    assert not written.entries


@root_only
def test_overlay_whiteouts_and_opaque_round_trip(tmp_path):
    root = tmp_path / "upper"
    (root / "etc").mkdir(parents=True)
    (root / "opq").mkdir()
    os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    (root / "opq" / "kept").write_text("k")
    os.mknod(root / "etc" / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.setxattr(root / "etc", "user.note", b"n")
    written = write_layer(str(root), str(tmp_path / "layer.tar"))
    names = [m.name for m in _members((tmp_path / "layer.tar").read_bytes())]
    assert names == ["etc", "etc/.wh.gone", "null", "opq", "opq/.wh..wh..opq", "opq/kept"]
    with open(tmp_path / "layer.tar", "rb") as f:
        result = unpack_layer(f, str(tmp_path / "back"), expected_diff_id=written.diff_id)
    assert result.diff_id == written.diff_id
    back = tmp_path / "back"
    st = os.lstat(back / "etc" / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(back / "opq", "trusted.overlay.opaque") == b"y"
    assert os.lstat(back / "null").st_rdev == os.makedev(1, 3)
    assert os.getxattr(back / "etc", "user.note") == b"n"
    # written again from the unpacked snapshot: the same tar
    again = write_layer(str(back), str(tmp_path / "again.tar"))
    assert again.diff_id == written.diff_id


def test_nanosecond_mtimes_round_trip_exactly(tmp_path):
    root = tmp_path / "upper"
    root.mkdir()
    (root / "f").write_text("x")
    ns = 1795980297_062712200  # a float cannot hold it: as seconds it reads back as ...0627124
    os.utime(root / "f", ns=(ns, ns))
    written = write_layer(str(root), str(tmp_path / "layer.tar"))
    with open(tmp_path / "layer.tar", "rb") as f:
        unpack_layer(f, str(tmp_path / "back"), expected_diff_id=written.diff_id)
    assert os.lstat(tmp_path / "back" / "f").st_mtime_ns == ns
    assert write_layer(str(tmp_path / "back"), str(tmp_path / "again.tar")).diff_id == written.diff_id
