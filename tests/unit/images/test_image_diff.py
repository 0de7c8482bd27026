"""Container changes from an upper dir: kinds, order, lookups in the image's layers."""

from __future__ import annotations

import os
import stat

import pytest

from pouch.images.diff import ADDED, DELETED, MODIFIED, in_layers, list_changes, without_artefact_dirs
from pouch.images.layertar import Kind, Node


def _node(path: str, kind: Kind) -> Node:
    return Node(path, kind, os.stat_result((0, 0, 0, 0, 0, 0, 0, 0, 0, 0), {"st_mtime_ns": 0, "st_rdev": 0}))


def test_kinds_and_order():
    nodes = [_node("/", Kind.DIR), _node("/etc", Kind.DIR), _node("/etc/new", Kind.FILE),
             _node("/etc/passwd", Kind.FILE), _node("/bin/vi", Kind.WHITEOUT), _node("/etc-x", Kind.FILE)]
    image = {"/etc", "/etc/passwd", "/bin/vi", "/bin"}
    assert list_changes(nodes, image.__contains__) == [
        {"Path": "/bin/vi", "Kind": DELETED},
        {"Path": "/etc", "Kind": MODIFIED},
        {"Path": "/etc-x", "Kind": ADDED},
        {"Path": "/etc/new", "Kind": ADDED},
        {"Path": "/etc/passwd", "Kind": MODIFIED},
    ]


def test_in_layers_never_follows_symlinks(tmp_path):
    top, bottom = tmp_path / "top", tmp_path / "bottom"
    (bottom / "etc").mkdir(parents=True)
    (bottom / "etc" / "passwd").write_text("x")
    top.mkdir()
    os.symlink("/etc", top / "hostetc")  # would reach the host's /etc if followed
    layers = [str(top), str(bottom)]
    assert in_layers(layers, "/etc/passwd")
    assert not in_layers(layers, "/hostetc/passwd")
    assert not in_layers(layers, "/nope")


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")
def test_in_layers_whiteouts_and_opaque_dirs(tmp_path):
    top, bottom = tmp_path / "top", tmp_path / "bottom"
    (bottom / "d").mkdir(parents=True)
    (bottom / "d" / "f").write_text("x")
    (bottom / "gone").write_text("x")
    (top / "d").mkdir(parents=True)
    os.setxattr(top / "d", "trusted.overlay.opaque", b"y")
    os.mknod(top / "gone", stat.S_IFCHR, os.makedev(0, 0))
    layers = [str(top), str(bottom)]
    assert not in_layers(layers, "/gone")
    assert not in_layers(layers, "/d/f")
    assert in_layers(layers, "/d")


def test_directories_holding_only_pouch_artefacts_are_not_changes():
    upper = {"/etc": ["hosts", "resolv.conf", "systemd"], "/etc/systemd": ["system"],
             "/etc/systemd/system": ["pouch-app.service"], "/tmp": ["made"], "/var": []}
    changes = [{"Path": "/etc", "Kind": MODIFIED}, {"Path": "/etc/systemd", "Kind": MODIFIED},
               {"Path": "/etc/systemd/system", "Kind": MODIFIED}, {"Path": "/tmp", "Kind": MODIFIED},
               {"Path": "/tmp/made", "Kind": ADDED}, {"Path": "/var", "Kind": MODIFIED}]
    assert without_artefact_dirs(changes, upper.get) == [
        {"Path": "/tmp", "Kind": MODIFIED}, {"Path": "/tmp/made", "Kind": ADDED}, {"Path": "/var", "Kind": MODIFIED}]
    changes.append({"Path": "/etc/passwd", "Kind": MODIFIED})
    upper["/etc"].append("passwd")
    paths = [c["Path"] for c in without_artefact_dirs(changes, upper.get)]
    assert "/etc" in paths and "/etc/passwd" in paths and "/etc/systemd" not in paths
