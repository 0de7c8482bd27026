"""The image store's usage as ImageFsInfo reports it: allocated bytes and inodes, hard links once."""

from __future__ import annotations

import os

from pouch.cri.fsusage import USAGE_MAX_AGE, CachedTreeUsage, tree_usage


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


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cached_usage_is_reused_until_it_is_too_old(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 4096)
    clock = Clock()
    cache = CachedTreeUsage(str(tmp_path), max_age=USAGE_MAX_AGE, clock=clock)
    first = cache.get()
    assert first.usage.inodes_used == 2 and first.taken_ns > 0
    (tmp_path / "b").write_bytes(b"x" * 4096)
    clock.now += USAGE_MAX_AGE - 0.5
    assert cache.get() == first  # not walked again: stale by less than the bound
    clock.now += 1
    second = cache.get()
    assert second.usage.inodes_used == 3 and second.taken_ns >= first.taken_ns


def test_invalidated_usage_is_walked_again_at_once(tmp_path):
    cache = CachedTreeUsage(str(tmp_path), max_age=USAGE_MAX_AGE, clock=Clock())
    assert cache.get().usage.inodes_used == 1
    (tmp_path / "pulled").mkdir()
    cache.invalidate()
    assert cache.get().usage.inodes_used == 2


def test_the_staleness_bound_is_containerds_refresh_period():
    assert USAGE_MAX_AGE == 10.0
