"""How an attach/exec stream ends, and what a broken pipe means (issue 12 §1, §2).

A stream that the daemon ended properly (its side closed after whole frames) is a normal end;
a connection reset, or a multiplexed stream cut in the middle of a frame, is the daemon going
away: an error. A broken pipe is exit 0 only when it is our stdout that closed (``pouch save |
head``); on the daemon's socket it is a lost connection, exit 1.
"""

from __future__ import annotations

import io
import os
import socket

import pytest

from pouch.cli.client import ConnectionLost
from pouch.cli.main import broken_pipe_exit_code
from pouch.cli.stream import copy_output, encode_frame, iter_socket


def test_a_stream_closed_after_whole_frames_is_a_normal_end():
    ours, daemon = socket.socketpair()
    daemon.sendall(encode_frame(1, b"out") + encode_frame(2, b"err"))
    daemon.shutdown(socket.SHUT_WR)
    out, err = io.BytesIO(), io.BytesIO()
    copy_output(iter_socket(ours), tty=False, stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue()) == (b"out", b"err")
    ours.close()
    daemon.close()


def test_a_connection_reset_is_an_error():
    ours, daemon = socket.socketpair()
    daemon.sendall(encode_frame(1, b"out"))
    ours.sendall(b"input the daemon never read")
    out = io.BytesIO()
    chunks = iter_socket(ours)
    assert next(chunks) == encode_frame(1, b"out")
    daemon.close()  # with unread input: the kernel resets our side
    with pytest.raises(ConnectionLost):
        copy_output(chunks, tty=False, stdout=out, stderr=io.BytesIO())
    ours.close()


def test_a_stream_cut_in_the_middle_of_a_frame_is_an_error():
    ours, daemon = socket.socketpair()
    daemon.sendall(encode_frame(1, b"complete") + encode_frame(1, b"cut short")[:9])
    daemon.close()
    out = io.BytesIO()
    with pytest.raises(ConnectionLost):
        copy_output(iter_socket(ours), tty=False, stdout=out, stderr=io.BytesIO())
    assert out.getvalue() == b"complete"
    ours.close()


def test_a_broken_pipe_on_a_closed_stdout_is_success():
    r, w = os.pipe()
    os.close(r)
    try:
        assert broken_pipe_exit_code(w) == 0
    finally:
        os.close(w)


def test_a_broken_pipe_elsewhere_is_an_error():
    r, w = os.pipe()
    try:
        assert broken_pipe_exit_code(w) == 1
    finally:
        os.close(r)
        os.close(w)
