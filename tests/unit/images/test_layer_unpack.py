import io
import os
import stat

import pytest
from image_test_tools import MTIME, chardev, directory, fifo, file, hardlink, make_tar, sha, symlink

from pouch.archive import OPAQUE_XATTR, unpack_layer
from pouch.errors import InvalidArgument


def unpack(tmp_path, entries, gz=False, **kw):
    dest = tmp_path / "layer"
    data = make_tar(entries, gz=gz)
    result = unpack_layer(io.BytesIO(data), str(dest), **kw)
    return dest, result, data


def test_regular_tree_with_metadata(tmp_path):
    dest, result, data = unpack(
        tmp_path,
        [
            directory("./", mode=0o755),
            directory("etc/", mode=0o750, uid=1000, gid=1001),
            file("etc/passwd", b"root:x:0:0\n", mode=0o640, uid=1000, gid=1001, mtime=1234567890),
            file("bin/tool", b"#!/bin/sh\n", mode=0o4755),
            symlink("bin/sh", "/bin/busybox"),
            hardlink("bin/tool2", "bin/tool"),
            chardev("dev/null", 1, 3),
            fifo("run/fifo"),
            file("x", b"attr", xattrs={"user.test": "v1", "trusted.overlay.redirect": "/evil"}),
        ],
    )
    assert result.diff_id == sha(data)
    assert result.digest is None  # the stream as given is hashed only when a digest is expected
    assert result.size == len(b"root:x:0:0\n") + len(b"#!/bin/sh\n") + 4
    st = os.lstat(dest / "etc/passwd")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o640, 1000, 1001, 1234567890)
    assert (dest / "etc/passwd").read_bytes() == b"root:x:0:0\n"
    d = os.lstat(dest / "etc")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, int(d.st_mtime)) == (0o750, 1000, MTIME)
    assert stat.S_IMODE(os.lstat(dest / "bin/tool").st_mode) == 0o4755
    assert os.readlink(dest / "bin/sh") == "/bin/busybox"
    assert os.lstat(dest / "bin/tool2").st_ino == os.lstat(dest / "bin/tool").st_ino
    dev = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(dev.st_mode) and (os.major(dev.st_rdev), os.minor(dev.st_rdev)) == (1, 3)
    assert stat.S_ISFIFO(os.lstat(dest / "run/fifo").st_mode)
    assert os.getxattr(dest / "x", "user.test") == b"v1"
    assert "trusted.overlay.redirect" not in os.listxattr(dest / "x")
    assert [p for p in os.listdir(tmp_path) if p != "layer"] == []


def test_whiteouts_become_overlay_whiteouts(tmp_path):
    dest, _, _ = unpack(
        tmp_path,
        [
            directory("etc/"),
            file("etc/.wh.motd"),
            directory("var/cache/"),
            file("var/cache/.wh..wh..opq"),
            file("var/cache/new", b"n"),
            file(".wh..wh.plnk"),
        ],
    )
    st = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not os.path.lexists(dest / "etc/.wh.motd")
    assert os.getxattr(dest / "var/cache", OPAQUE_XATTR) == b"y"
    assert not os.path.lexists(dest / "var/cache/.wh..wh..opq")
    assert (dest / "var/cache/new").read_bytes() == b"n"
    assert not os.path.lexists(dest / ".wh..wh.plnk")


def test_gzip_layer(tmp_path):
    entries = [file("hello", b"world")]
    gz = make_tar(entries, gz=True)
    dest = tmp_path / "layer"
    result = unpack_layer(io.BytesIO(gz), str(dest), expected_digest=sha(gz))
    assert (dest / "hello").read_bytes() == b"world"
    assert result.diff_id == sha(make_tar(entries)) and result.digest == sha(gz)


def test_later_entry_replaces_earlier(tmp_path):
    dest, _, _ = unpack(tmp_path, [symlink("a", "/etc/passwd"), file("a", b"plain")])
    assert not os.path.islink(dest / "a") and (dest / "a").read_bytes() == b"plain"


@pytest.mark.parametrize(
    "entries,bad,why",
    [
        ([file("../escape", b"x")], "../escape", "escapes"),
        ([file("a/../../escape", b"x")], "a/../../escape", "escapes"),
        ([file("/etc/evil", b"x")], "/etc/evil", "absolute"),
        ([symlink("link", "/etc"), file("link/passwd", b"x")], "link/passwd", "symlink"),
        ([symlink("link", "../../.."), file("link/x", b"x")], "link/x", "symlink"),
        ([hardlink("h", "../../etc/passwd")], "h", "escapes"),
        ([hardlink("h", "/etc/passwd")], "h", "absolute"),
        ([hardlink("h", "nothere")], "h", "not in the layer"),
        ([symlink("d", "/etc"), hardlink("h", "d/passwd")], "h", "symlink"),
        ([file("f", b"x"), file("f/g", b"y")], "f/g", "not a directory"),
    ],
)
def test_escapes_are_refused_and_leave_nothing(tmp_path, entries, bad, why):
    with pytest.raises(InvalidArgument) as exc:
        unpack(tmp_path, entries)
    assert repr(bad) in exc.value.message and why in exc.value.message
    assert os.listdir(tmp_path) == []


def test_diff_id_mismatch_leaves_nothing(tmp_path):
    with pytest.raises(InvalidArgument) as exc:
        unpack(tmp_path, [file("a", b"x")], expected_diff_id="sha256:" + "0" * 64)
    assert "sha256:" + "0" * 64 in exc.value.message
    assert os.listdir(tmp_path) == []


def test_truncated_archive_leaves_nothing(tmp_path):
    data = make_tar([file("a", b"x" * 5000)])[:3000]
    with pytest.raises(InvalidArgument):
        unpack_layer(io.BytesIO(data), str(tmp_path / "layer"))
    assert os.listdir(tmp_path) == []
