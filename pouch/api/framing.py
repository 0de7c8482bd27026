"""Docker's stream framing, sans IO: bytes in, bytes or events out.

The stdcopy wire format (JSON progress lines are rendered by ``api/progress_json.py``):

* **stdcopy multiplexing** (``application/vnd.docker.multiplexed-stream``), used by
  attach, exec start and logs when the container has no TTY. Every frame is an
  8-byte header followed by the payload::

      [stream:1][0:3][length:4, big-endian]  payload...

  ``stream`` is 0 stdin, 1 stdout, 2 stderr (3 is the daemon's "system error"
  stream, written by newer daemons when a stream fails). See moby
  ``pkg/stdcopy/stdcopy.go``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from enum import IntEnum

HEADER_LEN = 8
MAX_FRAME = 0xFFFFFFFF
_HEADER = struct.Struct(">BxxxI")


class Stream(IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEMERR = 3


class FramingError(ValueError):
    """The peer sent bytes that are not a valid stdcopy stream."""


def encode_frame(stream: int, data: bytes) -> bytes:
    """One stdcopy frame carrying ``data`` on ``stream``."""
    if stream not in Stream._value2member_map_:
        raise ValueError(f"unknown stream {stream}")
    if len(data) > MAX_FRAME:
        raise ValueError(f"frame of {len(data)} bytes is too large")
    return _HEADER.pack(stream, len(data)) + bytes(data)


def encode_header(stream: int, length: int) -> bytes:
    """Only the 8-byte header, for writers that send the payload separately (no copy)."""
    if stream not in Stream._value2member_map_:
        raise ValueError(f"unknown stream {stream}")
    return _HEADER.pack(stream, length)


class FrameDecoder:
    """Incremental stdcopy decoder.

    ``feed(data)`` returns the complete frames now available as ``(stream, payload)``;
    partial frames are kept until the rest arrives. ``close()`` raises if the stream
    ended in the middle of a frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        return list(self._drain())

    def _drain(self) -> Iterator[tuple[int, bytes]]:
        pos = 0
        buf = self._buf
        try:
            while len(buf) - pos >= HEADER_LEN:
                stream, length = _HEADER.unpack_from(buf, pos)
                if stream not in Stream._value2member_map_:
                    raise FramingError(f"unrecognized stream {stream} in frame header")
                if len(buf) - pos - HEADER_LEN < length:
                    break
                start = pos + HEADER_LEN
                yield stream, bytes(buf[start : start + length])
                pos = start + length
        finally:
            del buf[:pos]

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet make a whole frame."""
        return len(self._buf)

    def close(self) -> None:
        if self._buf:
            raise FramingError(f"stream ended inside a frame ({len(self._buf)} bytes left)")


def demux(data: bytes) -> list[tuple[int, bytes]]:
    """Decode a complete multiplexed byte string (convenience for tests and clients)."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    decoder.close()
    return frames
