"""stdcopy framing."""

from __future__ import annotations

import os

import pytest

from pouch.api.framing import (
    FrameDecoder,
    FramingError,
    Stream,
    demux,
    encode_frame,
    encode_header,
)


def test_encode_frame_layout():
    assert encode_frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert encode_frame(Stream.STDERR, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert encode_frame(0, b"x" * 256)[:8] == b"\x00\x00\x00\x00\x00\x00\x01\x00"
    assert encode_header(2, 70000) == b"\x02\x00\x00\x00\x00\x01\x11\x70"


def test_encode_rejects_unknown_stream():
    with pytest.raises(ValueError):
        encode_frame(4, b"x")


def test_round_trip_byte_by_byte():
    frames = [(1, b"hello\n"), (2, b"oops\n"), (1, b""), (1, os.urandom(100_000)), (0, b"in")]
    wire = b"".join(encode_frame(s, d) for s, d in frames)
    decoder = FrameDecoder()
    out = []
    for i in range(len(wire)):
        out += decoder.feed(wire[i : i + 1])
    decoder.close()
    assert out == frames
    assert demux(wire) == frames


def test_partial_frames_are_kept_until_complete():
    decoder = FrameDecoder()
    wire = encode_frame(1, b"abcdef") + encode_frame(2, b"gh")
    assert decoder.feed(wire[:5]) == []
    assert decoder.feed(wire[5:10]) == []
    assert decoder.pending == 10
    assert decoder.feed(wire[10:]) == [(1, b"abcdef"), (2, b"gh")]
    assert decoder.pending == 0


def test_decoder_errors():
    with pytest.raises(FramingError, match="unrecognized stream 7"):
        FrameDecoder().feed(b"\x07\x00\x00\x00\x00\x00\x00\x01x")
    decoder = FrameDecoder()
    decoder.feed(encode_frame(1, b"abc")[:-1])
    with pytest.raises(FramingError, match="inside a frame"):
        decoder.close()
