"""Engine stdio chunks and log entries in Docker's wire format; pumping a hijacked connection.

The pump runs against a real ``AttachConnection`` over a SOCK_SEQPACKET pair whose other
end plays conmon (stream byte + payload per packet), and a stream socket pair as the client.
"""

from __future__ import annotations

import socket
import threading

from pouch.api.attach_streams import (
    MULTIPLEXED_STREAM,
    RAW_STREAM,
    content_type,
    frame_chunk,
    frame_log_entry,
    pump,
)
from pouch.api.framing import demux
from pouch.runtime.attach import AttachConnection
from pouch.runtime.logs import LogEntry
from pouch.stdio import InputEnd, OutputChunk, StdioOptions, StreamKind

TS_NS = 1_764_097_077_719_352_609  # 2025-11-25T18:57:57.719352609Z


def test_chunks_are_stdcopy_frames_without_a_tty_and_raw_with_one():
    out = OutputChunk(StreamKind.STDOUT, b"hello\n")
    err = OutputChunk(StreamKind.STDERR, b"oops\n")
    assert frame_chunk(out, tty=False) == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
    assert frame_chunk(err, tty=False) == b"\x02\x00\x00\x00\x00\x00\x00\x05oops\n"
    assert frame_chunk(err, tty=True) == b"oops\n"
    assert (content_type(True), content_type(False)) == (RAW_STREAM, MULTIPLEXED_STREAM)


def test_log_entries_with_and_without_timestamps():
    entry = LogEntry(StreamKind.STDERR, TS_NS / 1e9, b"line\n", TS_NS)
    assert demux(frame_log_entry(entry, tty=False, timestamps=False)) == [(2, b"line\n")]
    assert frame_log_entry(entry, tty=True, timestamps=True) == b"2025-11-25T18:57:57.719352609Z line\n"


class Harness:
    """``pump`` in a thread between a fake conmon peer and a client socket."""

    def __init__(self, options: StdioOptions, leftover: bytes = b"") -> None:
        self.conmon, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.client, server_side = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server_side = server_side
        self.thread = threading.Thread(target=pump, args=(AttachConnection(ours), server_side, leftover, options))
        self.thread.start()

    def output(self, *packets: bytes) -> None:
        for packet in packets:
            self.conmon.send(packet)

    def end_output(self) -> None:
        self.conmon.close()

    def client_reads_all(self) -> bytes:
        self.thread.join(5)
        assert not self.thread.is_alive()
        self.server_side.close()
        data = bytearray()
        while chunk := self.client.recv(65536):
            data += chunk
        self.client.close()
        return bytes(data)


def test_pump_frames_output_and_keeps_the_wanted_streams():
    h = Harness(StdioOptions(tty=False, stdin=False, stdout=True, stderr=False))
    h.output(b"\x02out", b"\x03err", b"\x02more")
    h.end_output()
    assert demux(h.client_reads_all()) == [(1, b"out"), (1, b"more")]


def test_pump_with_a_tty_passes_bytes_through():
    h = Harness(StdioOptions(tty=True, stdin=False))
    h.output(b"\x02a", b"\x02b")
    h.end_output()
    assert h.client_reads_all() == b"ab"


def test_pump_delivers_input_and_closes_stdin_at_its_end():
    h = Harness(StdioOptions(tty=False, stdin=True, input_end=InputEnd.CLOSE_STDIN), leftover=b"first ")
    h.client.sendall(b"second")
    h.client.shutdown(socket.SHUT_WR)
    received = bytearray()
    h.conmon.settimeout(5)
    while packet := h.conmon.recv(65536):  # b"" once pump shut its write side: stdin closed
        received += packet
    assert bytes(received) == b"first second"
    h.output(b"\x02done")
    h.end_output()
    assert demux(h.client_reads_all()) == [(1, b"done")]


def test_pump_ends_an_attach_when_the_input_ends():
    h = Harness(StdioOptions(tty=True, stdin=True, input_end=InputEnd.END_OUTPUT))
    h.output(b"\x02before")
    h.client.shutdown(socket.SHUT_WR)
    assert h.client_reads_all() == b"before"  # the output side stops, conmon's side stays open
    h.conmon.close()
