"""pouch cp: Docker's path rules (pure) and the helper confined to a root (chroot, as pouchd runs it)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from pouch.cli.cp import plan_extract, rebase, rebase_name, split_cp_arg, split_dir_entry
from pouch.services.archive_root import container_abs_path, go_base, go_file_mode, go_split
from pouch.services.prune import ContainerPruneFilters, parse_container_prune_filters, shared_sizes


@pytest.mark.parametrize("given,expected", [
    ("etc", "/etc"), ("/etc/", "/etc/"), ("/etc/.", "/etc/."), ("etc/./", "/etc/./"), ("/", "/"), (".", "/."),
    ("/a/../../b", "/b"), ("//x//y", "/x/y"),
])
def test_container_abs_path_keeps_trailing_slash_and_dot(given, expected):
    assert container_abs_path(given) == expected


def test_go_base_and_split():
    assert [go_base(p) for p in ("/etc/", "/", "/etc/.", "/a/b")] == ["etc", "/", ".", "b"]
    assert go_split("/a/b") == ("/a/", "b") and go_split("/a/b/") == ("/a/b/", "")


def test_go_file_mode():
    assert go_file_mode(0o40755) == (1 << 31) | 0o755
    assert go_file_mode(0o120777) == (1 << 27) | 0o777
    assert go_file_mode(0o104755) == (1 << 23) | 0o755
    assert go_file_mode(0o20620) == (1 << 26) | (1 << 21) | 0o620


@pytest.mark.parametrize("arg,expected", [
    ("web:/tmp", ("web", "/tmp")), ("/abs:x", ("", "/abs:x")), ("./a:b", ("", "./a:b")), ("file", ("", "file")),
])
def test_split_cp_arg(arg, expected):
    assert split_cp_arg(arg) == expected


def test_docker_copy_rules():
    assert split_dir_entry("/a/b/") == ("/a", "b") and split_dir_entry("a/.") == ("a", ".")
    # a directory into an existing directory: lands inside, entries untouched
    assert plan_extract(True, "/src", "", "/dst", True, True) == ("/dst", None)
    # a directory to a new name: extracted into the parent, renamed
    assert plan_extract(True, "/src", "", "/new", False, False) == ("/", ("src", "new"))
    # the content of a directory to a new name
    assert plan_extract(True, "/src/.", "", "out", False, False) == (".", (".", "out"))
    # a file over a file takes the destination's name
    assert plan_extract(False, "/a.txt", "", "/d/b.txt", True, False) == ("/d", ("a.txt", "b.txt"))
    with pytest.raises(Exception, match="cannot copy directory"):
        plan_extract(True, "/src", "", "/file", True, False)
    with pytest.raises(Exception, match="no such directory"):
        plan_extract(False, "/a.txt", "", "/nodir/", False, False)
    assert rebase("./x/y", ".", "out") == "out/x/y" and rebase("src/", "src", "new") == "new/"
    assert rebase_name("/lnk", "/real/target") == ("/real/target", "lnk")


def test_container_prune_filters():
    parsed = parse_container_prune_filters({"until": ["10m"], "label": ["a=b"], "label!": ["c"]}, 1000.0)
    assert parsed == ContainerPruneFilters(400.0, ("a=b",), ("c",))
    with pytest.raises(Exception, match="invalid filter 'name'"):
        parse_container_prune_filters({"name": ["x"]}, 0)


def test_shared_sizes_count_layers_of_other_images():
    chains = {"i1": ["l1", "l2"], "i2": ["l1", "l3"], "i3": ["l4"]}
    assert shared_sizes(chains, {"l1": 10, "l2": 5, "l3": 7, "l4": 1}) == {"i1": 10, "i2": 10, "i3": 0}


# --- the helper in a root -------------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


def helper(op: str, root: str, path: str, data: bytes = b"", *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-m", "pouch.services.archive_root", op, "--root", root,
                           "--path", path, *flags], input=data, capture_output=True)


def make_tar(*entries: tuple) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid = 1000, 1000
            if kind == "file":
                info.size = len(extra)
                tf.addfile(info, io.BytesIO(extra))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[kind]
            info.linkname = extra or ""
            tf.addfile(info)
    return buf.getvalue()


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("container passwd\n")
    (root / "tmp" / "d").mkdir(parents=True)
    os.symlink("/etc", root / "tmp" / "abs")  # absolute: the container's /etc, never the host's
    os.symlink("../../../../../../../etc", root / "tmp" / "rel")
    os.symlink("/", root / "tmp" / "d" / "root")
    return str(root)


@needs_root
def test_stat_and_get_resolve_symlinks_inside_the_root(rootfs):
    out = helper("stat", rootfs, "/tmp/abs")
    stat = json.loads(out.stdout)
    assert stat["name"] == "abs" and stat["linkTarget"] == "/etc" and stat["mode"] & (1 << 27)
    for path in ("/tmp/abs/passwd", "/tmp/rel/passwd", "/tmp/d/root/etc/passwd"):
        got = helper("get", rootfs, path)
        assert got.returncode == 0, got.stderr
        body = got.stdout.split(b"\n", 1)[1]
        with tarfile.open(fileobj=io.BytesIO(body)) as tf:
            assert tf.getnames() == ["passwd"]
            assert tf.extractfile("passwd").read() == b"container passwd\n"


@needs_root
def test_get_names_entries_as_docker(rootfs):
    def names(path):
        got = helper("get", rootfs, path)
        with tarfile.open(fileobj=io.BytesIO(got.stdout.split(b"\n", 1)[1])) as tf:
            return tf.getnames()
    assert names("/etc") == ["etc", "etc/passwd"]
    assert names("/etc/.") == [".", "./passwd"]
    assert names("/tmp/abs/") == ["abs", "abs/passwd"]  # a trailing slash follows the symlink


@needs_root
def test_missing_path_is_404(rootfs):
    out = helper("stat", rootfs, "/nope/x")
    assert out.returncode == 1 and json.loads(out.stderr)["status"] == 404


@needs_root
@pytest.mark.parametrize("entries,reason", [
    ([("../evil", "file", b"x")], "escapes"),
    ([("/evil", "file", b"x")], "absolute"),
    ([("lnk", "sym", "/etc"), ("lnk/evil", "file", b"x")], "symlink leading out"),
    ([("lnk", "sym", "../.."), ("lnk/evil", "file", b"x")], "symlink leading out"),
    ([("root/etc/evil", "file", b"x")], "symlink leading out"),  # the container's own /tmp/d/root -> /
    ([("h", "link", "../../etc/passwd")], "escapes"),
    ([("h", "link", "/etc/passwd")], "absolute"),
])
def test_extract_refuses_escapes(rootfs, entries, reason):
    out = helper("put", rootfs, "/tmp/d", make_tar(*entries))
    assert out.returncode == 1
    error = json.loads(out.stderr)
    assert error["status"] == 400 and reason in error["message"]
    assert not os.path.exists(os.path.join(rootfs, "etc", "evil")) and not os.path.exists("/etc/evil")


@needs_root
def test_extract_into_a_symlink_destination_stays_in_the_root(rootfs):
    out = helper("put", rootfs, "/tmp/d/root", make_tar(("dropped", "file", b"ok")))
    assert out.returncode == 0, out.stderr
    assert open(os.path.join(rootfs, "dropped")).read() == "ok" and not os.path.exists("/dropped")


@needs_root
def test_extract_owners_modes_links_and_overwrite_rules(rootfs):
    data = make_tar(("dir", "dir", None), ("dir/f", "file", b"data"), ("dir/h", "link", "dir/f"),
                    ("dir/s", "sym", "f"), ("dir/s2", "sym", "/etc/passwd"))
    assert helper("put", rootfs, "/tmp", data).returncode == 0
    target = os.path.join(rootfs, "tmp", "dir")
    st = os.stat(os.path.join(target, "f"))
    assert (st.st_uid, st.st_gid, st.st_nlink) == (0, 0, 2)  # root's unless -a
    assert os.readlink(os.path.join(target, "s2")) == "/etc/passwd"
    assert helper("put", rootfs, "/tmp", make_tar(("kept", "file", b"k")), "--keep-owner").returncode == 0
    assert os.stat(os.path.join(rootfs, "tmp", "kept")).st_uid == 1000
    out = helper("put", rootfs, "/tmp", make_tar(("dir", "file", b"x")), "--no-overwrite-dir-non-dir")
    assert out.returncode == 1 and "cannot overwrite directory" in json.loads(out.stderr)["message"]
    out = helper("put", rootfs, "/etc/passwd", make_tar(("x", "file", b"x")))
    assert json.loads(out.stderr)["message"] == "extraction point is not a directory"


def test_archive_mounts_order_innermost_and_encoding():
    from pouch.services.archive_mounts import ContainerMount, decode, encode, in_order, innermost

    mounts = [ContainerMount("/v/sub/_data", "/data/sub", True), ContainerMount("/v/data/_data", "/data"),
              ContainerMount("/srv", "/srv/x:y")]
    assert decode(encode(mounts)) == mounts
    assert [m.target for m in in_order(mounts)] == ["/data", "/data/sub", "/srv/x:y"]  # parents first
    targets = [(m.target, m.read_only) for m in mounts]
    assert innermost("/data/sub/f", targets) == ("/data/sub", True)
    assert innermost("/data/subway", targets) == ("/data", False)
    assert innermost("/data", targets) == ("/data", False)
    assert innermost("/dat", targets) is None and innermost("/", targets) is None
