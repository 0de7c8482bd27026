"""Names on user-defined networks: the hosts block of each container (pure + in-place rewrite)."""

from __future__ import annotations

import os

from pouch.network import hostsync
from pouch.network.hostsync import Member

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_peer_lines_cover_the_shared_networks_only():
    members = [Member(A, "web", "n1", "10.0.0.2", ("www",)), Member(B, "db", "n2", "10.1.0.2"),
               Member(C, "cache", "n1", "10.0.0.3"), Member(C, "cache", "n2", "10.1.0.3")]
    assert hostsync.peer_lines({"n1"}, members) == ["10.0.0.3\tcache " + C[:12], "10.0.0.2\tweb www " + A[:12]]
    assert hostsync.peer_lines({"n2"}, members) == ["10.1.0.3\tcache " + C[:12], "10.1.0.2\tdb " + B[:12]]
    assert hostsync.peer_lines(set(), members) == []


def test_splice_replaces_the_block_and_keeps_the_rest():
    base = "127.0.0.1\tlocalhost\n10.0.0.2\tabc\n"
    once = hostsync.splice(base, ["10.0.0.3\tdb"])
    assert once == base + hostsync.BEGIN + "\n10.0.0.3\tdb\n" + hostsync.END + "\n"
    assert hostsync.splice(once, ["10.0.0.4\tx"]).count(hostsync.BEGIN) == 1
    assert hostsync.splice(once, []) == base


def test_rewrite_keeps_the_inode(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1\tlocalhost\n")
    inode = os.stat(path).st_ino
    assert hostsync.rewrite_in_place(str(path), ["10.0.0.3\tdb"])
    assert not hostsync.rewrite_in_place(str(path), ["10.0.0.3\tdb"])  # unchanged: not written
    assert hostsync.rewrite_in_place(str(path), [])
    assert path.read_text() == "127.0.0.1\tlocalhost\n" and os.stat(path).st_ino == inode
    assert not hostsync.rewrite_in_place(str(tmp_path / "gone"), ["x"])
