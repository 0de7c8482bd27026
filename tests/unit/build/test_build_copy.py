import os

import pytest

from pouch.build import copy as copying
from pouch.errors import NotFound


def test_scoped_path_never_leaves_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "abs")
    os.symlink("../../../../etc", root / "etc" / "up")
    assert copying.scoped_path(str(root), "../../etc/passwd") == str(root / "etc" / "passwd")
    assert copying.scoped_path(str(root), "abs") == str(root / "etc" / "passwd")
    assert copying.scoped_path(str(root), "etc/up/x") == str(root / "etc" / "x")
    assert copying.scoped_path(str(root), "abs", follow_last=False) == str(root / "abs")


def test_stage_copy_file_dir_and_ignore(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "dir" / "sub").mkdir(parents=True)
    (ctx / "a.txt").write_text("a")
    (ctx / "dir" / "sub" / "b.txt").write_text("b")
    (ctx / "dir" / "skip.log").write_text("s")
    staging = tmp_path / "stage"
    staging.mkdir()
    excluded = lambda rel: rel.endswith(".log")  # noqa: E731
    found = copying.expand_sources(str(ctx), ["a.txt", "dir", "*.txt"], excluded)
    assert [rel for _, rel in found] == ["a.txt", "dir", "a.txt"]
    spec = copying.CopySpec(("a.txt", "dir"), "/app", True, 5, 6)
    copying.stage_copy(spec, found[:2], str(staging), excluded, lambda p: False)
    assert (staging / "app" / "a.txt").read_text() == "a"
    assert (staging / "app" / "sub" / "b.txt").read_text() == "b"
    assert not (staging / "app" / "skip.log").exists()
    assert os.stat(staging / "app" / "a.txt").st_uid == 5
    digest = copying.tree_digest(str(staging))
    (staging / "app" / "a.txt").write_text("changed")
    assert copying.tree_digest(str(staging)) != digest
    with pytest.raises(NotFound):
        copying.expand_sources(str(ctx), ["dir/skip.log"], excluded)
    with pytest.raises(NotFound):
        copying.expand_sources(str(ctx), ["missing"], None)


def test_dest_and_chown():
    assert copying.resolve_dest("x", "/app") == ("/app/x", False)
    assert copying.resolve_dest("./", "/app") == ("/app", True)
    assert copying.resolve_dest("/abs/", "/app") == ("/abs", True)
    passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"
    group = "root:x:0:\nstaff:x:50:\n"
    assert copying.parse_chown("app", passwd, group) == (1000, 1001)
    assert copying.parse_chown("app:staff", passwd, group) == (1000, 50)
    assert copying.parse_chown("7", passwd, group) == (7, 7)


def test_wildcards_in_directory_parts(tmp_path):
    ctx = tmp_path / "ctx"
    for rel in ("src/a/conf/x", "src/b/conf/y", "src/c/other/z"):
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(rel)
    found = copying.expand_sources(str(ctx), ["src/*/conf", "s?c/[ab]/conf/*"], None)
    assert [rel for _, rel in found] == ["src/a/conf", "src/b/conf", "src/a/conf/x", "src/b/conf/y"]
    with pytest.raises(NotFound):
        copying.expand_sources(str(ctx), ["src/*/missing"], None)


def test_image_path_follows_symlinks_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    os.symlink("/real", root / "link")
    os.symlink("../../../../outside", root / "escape")
    assert copying.image_path(str(root), "/link/x") == "/real/x"
    assert copying.image_path(str(root), "/escape/") == "/outside"
    assert copying.image_path(str(root), "/") == "/"


def test_remote_names_and_times():
    from pouch.build import remote
    from pouch.errors import InvalidArgument

    assert remote.url_filename("http://h/a/b.tar.gz?x=1") == "b.tar.gz"
    with pytest.raises(InvalidArgument):
        remote.url_filename("http://h/")
    assert remote.last_modified("Sun, 13 Sep 2020 12:26:40 GMT") == 1_600_000_000
    assert remote.last_modified("garbage") is None and remote.last_modified(None) is None
