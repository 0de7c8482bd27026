"""Detach keys: Docker's format and its escape proxy."""

from __future__ import annotations

import pytest

from pouch.detachkeys import (
    DEFAULT_DETACH_KEYS,
    DetachMatcher,
    InvalidDetachKeys,
    parse_detach_keys,
    session_detach_keys,
)


def test_parse():
    assert parse_detach_keys(DEFAULT_DETACH_KEYS) == b"\x10\x11"
    assert parse_detach_keys("ctrl-@,ctrl-_,a,CTRL-X") == b"\x00\x1fa\x18"
    for bad in ("", "ctrl-", "ctrl-1", "ab", "a,,b", "é"):
        with pytest.raises(InvalidDetachKeys):
            parse_detach_keys(bad)


def test_matcher_swallows_the_sequence_across_pieces():
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ls\x10") == b"ls"
    assert not m.detached
    assert m.feed(b"\x11after") == b""
    assert m.detached
    assert m.feed(b"more") == b""


def test_matcher_lets_a_partial_sequence_through():
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"\x10") == b""
    assert m.feed(b"x\x10\x10") == b"\x10x\x10"
    assert m.feed(b"\x11") == b""
    assert m.detached


def test_the_daemon_watches_given_keys_or_the_default_with_a_tty():
    assert session_detach_keys("ctrl-x,x", tty=False) == b"\x18x"
    assert session_detach_keys("", tty=True) == b"\x10\x11"
    assert session_detach_keys("", tty=False) == b""  # a piped input is passed on untouched
