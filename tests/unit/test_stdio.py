"""The engine's stdio values: conmon's stream bytes as kinds, Docker's rule for the input's end."""

from __future__ import annotations

from pouch.runtime.attach import STDERR, STDOUT, chunk_of
from pouch.services.execs import ExecConfig, exec_stdio_options
from pouch.stdio import InputEnd, OutputChunk, StdioOptions, StreamKind, input_end


def test_conmon_stream_bytes_become_kinds():
    assert chunk_of(STDOUT, b"a") == OutputChunk(StreamKind.STDOUT, b"a")
    assert chunk_of(STDERR, b"b") == OutputChunk(StreamKind.STDERR, b"b")


def test_input_end_rule():
    assert input_end(tty=False, stdin_once=True, exec_session=False) == InputEnd.CLOSE_STDIN
    assert input_end(tty=True, stdin_once=True, exec_session=False) == InputEnd.END_OUTPUT
    assert input_end(tty=False, stdin_once=False, exec_session=False) == InputEnd.END_OUTPUT
    assert input_end(tty=True, stdin_once=True, exec_session=True) == InputEnd.KEEP_OUTPUT


def test_exec_stdio_options():
    options = exec_stdio_options(ExecConfig(cmd=("cat",), attach_stdin=True, attach_stderr=False))
    assert options == StdioOptions(tty=False, stdin=True, stdout=True, stderr=False, input_end=InputEnd.CLOSE_STDIN)
    assert options.wants(StreamKind.STDOUT) and not options.wants(StreamKind.STDERR)
    assert exec_stdio_options(ExecConfig(cmd=("sh",), tty=True)).input_end == InputEnd.KEEP_OUTPUT
