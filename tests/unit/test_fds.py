"""pouch.fds: waiting on fds numbered past FD_SETSIZE, and the fd limit."""

from __future__ import annotations

import os
import resource
import socket

import pytest

from pouch.fds import hung_up, raise_nofile_limit, wait_readable


@pytest.fixture
def high_pipe():
    """A pipe whose read end is fd 1500 (select() refuses anything from 1024 on)."""
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] <= 1600:
        pytest.skip("hard fd limit too low")
    raise_nofile_limit()
    r, w = os.pipe()
    os.dup2(r, 1500)
    os.close(r)
    yield 1500, w
    os.close(1500)
    os.close(w)


def test_wait_readable_takes_fds_past_1024(high_pipe):
    r, w = high_pipe
    assert wait_readable([r], 0) == set()
    os.write(w, b"x")
    assert wait_readable([r, w], 1) == {r}


def test_wait_readable_times_out_empty():
    r, w = os.pipe()
    try:
        assert wait_readable([r], 0.05) == set()
    finally:
        os.close(r)
        os.close(w)


def test_hung_up_sees_a_closed_peer_not_a_half_close():
    a, b = socket.socketpair()
    try:
        assert not hung_up(a)
        b.shutdown(socket.SHUT_WR)
        assert not hung_up(a)
        b.close()
        assert hung_up(a)
    finally:
        a.close()


def test_raise_nofile_limit_reaches_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        assert raise_nofile_limit() == (hard, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
