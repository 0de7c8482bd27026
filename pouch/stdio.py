"""A process's standard streams as the engine hands them to its front ends (pure types).

The engine speaks of a container's (or an exec session's) stdio in these terms only;
each front end turns them into its wire format (the Docker API: raw bytes with a
TTY, stdcopy frames without, ``pouch/api/attach_streams.py``; the CRI: its own).

Glossary:

- *chunk*: one read of a process's output, with the stream it came from;
- *connection*: a live link to a running process's stdio (conmon's attach socket):
  chunks out, bytes in, and the end of the input;
- *input end*: what happens when the client's input ends (it half-closes its side).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class StreamKind(StrEnum):
    STDIN = "stdin"
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True)
class OutputChunk:
    """Bytes a process wrote to one of its output streams."""

    kind: StreamKind
    data: bytes


class InputEnd(StrEnum):
    """What the end of the client's input does to an attached process."""

    CLOSE_STDIN = "close-stdin"  # the process's stdin is closed, its output flows to the end (StdinOnce, exec -i)
    KEEP_OUTPUT = "keep-output"  # nothing: the output flows to the end (exec -it: a terminal has no EOF)
    END_OUTPUT = "end-output"  # the stream ends and the process keeps its stdin (attach without StdinOnce)


def input_end(tty: bool, stdin_once: bool, exec_session: bool) -> InputEnd:
    """Docker's rule, which every front end keeps: close stdin only for StdinOnce without
    a TTY; otherwise an attach ends, while an exec session's output is kept to its end."""
    if stdin_once and not tty:
        return InputEnd.CLOSE_STDIN
    return InputEnd.KEEP_OUTPUT if exec_session else InputEnd.END_OUTPUT


@dataclass(frozen=True)
class StdioOptions:
    """How a front end connects a client with an attached process: which streams
    flow, whether output is a terminal's (one stream), and the rule for the input's end."""

    tty: bool
    stdin: bool
    stdout: bool = True
    stderr: bool = True
    input_end: InputEnd = InputEnd.CLOSE_STDIN

    def wants(self, kind: StreamKind) -> bool:
        """Does the client want output of this stream?"""
        return self.stderr if kind == StreamKind.STDERR else self.stdout


class StdioConnection(Protocol):
    """A live connection to a process's stdio (``runtime.attach.AttachConnection``)."""

    def fileno(self) -> int: ...

    def recv(self) -> OutputChunk | None:
        """The next output chunk, or None once the output has ended."""
        ...

    def send(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def stop_output(self) -> None:
        """End the output side (``recv`` returns None) without closing the process's stdin."""
        ...

    def close(self) -> None: ...
