"""The image store's usage as ImageFsInfo reports it: allocated bytes and inodes, hard links once."""

from __future__ import annotations

import os

from pouch.cri.fsusage import tree_usage


def test_tree_usage_counts_each_inode_once(tmp_path):
    root = tmp_path / "snapshots"
    (root / "1" / "fs").mkdir(parents=True)
    (root / "1" / "fs" / "big").write_bytes(b"x" * 65536)
    os.link(root / "1" / "fs" / "big", root / "1" / "fs" / "link")
    os.symlink("/etc/passwd", root / "1" / "fs" / "sym")  # not followed
    usage = tree_usage(str(root))
    assert usage.inodes_used == 5  # snapshots, 1, fs, big (= link), sym
    assert 65536 <= usage.used_bytes < 65536 + 5 * 16384


def test_tree_usage_of_a_missing_store_is_zero(tmp_path):
    usage = tree_usage(str(tmp_path / "none"))
    assert (usage.used_bytes, usage.inodes_used) == (0, 0)
