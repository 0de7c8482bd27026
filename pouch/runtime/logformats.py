"""Reading the log drivers' records back (pure): json-file lines and local frames into typed
entries; the writing side, which the log writer process imports, is ``logencode``.
"""

from __future__ import annotations

import json

from pouch.runtime.logencode import split_lines
from pouch.runtime.logs import LogEntry, LogFormat, parse_timestamp_ns
from pouch.stdio import StreamKind

_STREAMS = {"stdout": StreamKind.STDOUT, "stderr": StreamKind.STDERR}
FRAME_MAX = 1 << 20  # Docker's local driver: a record is at most 1 MiB


# ----------------------------------------------------------------------------- json-file
def decode_json(line: bytes, times: dict[str, int] | None = None) -> LogEntry | None:
    """A json-file line → entry (``partial`` when its text has no newline); None if malformed."""
    try:
        obj = json.loads(line)
        stream = _STREAMS[obj.get("stream", "stdout")]
        text, stamp = obj["log"], obj["time"]
        attrs = tuple(sorted((str(k), str(v)) for k, v in (obj.get("attrs") or {}).items()))
        ns = times.get(stamp) if times is not None else None
        if ns is None:
            ns = parse_timestamp_ns(stamp)
            if times is not None:
                if len(times) > 4096:
                    times.clear()
                times[stamp] = ns
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    data = text.encode("utf-8", "surrogateescape")
    return LogEntry(stream, ns / 1e9, data, ns, partial=not data.endswith(b"\n"), attrs=attrs)


_TIMES: dict[str, int] = {}  # time text → ns, shared by readers (lines of one write share a time)

JSON_FILE = LogFormat(split_lines, lambda line: decode_json(line, _TIMES))


# ----------------------------------------------------------------------------- local
def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def decode_local(msg: bytes) -> LogEntry | None:
    """One record's protobuf message → entry; None if malformed."""
    source, time_ns, line, partial, pos = "stdout", 0, b"", False, 0
    try:
        while pos < len(msg):
            key, pos = _read_varint(msg, pos)
            field, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _read_varint(msg, pos)
                time_ns = value if field == 2 else time_ns
                partial = bool(value) if field == 4 else partial
            elif wire == 2:
                size, pos = _read_varint(msg, pos)
                chunk, pos = msg[pos:pos + size], pos + size
                source = chunk.decode() if field == 1 else source
                line = chunk if field == 3 else line
            else:
                return None
        stream = _STREAMS[source]
    except (IndexError, KeyError, UnicodeDecodeError):
        return None
    return LogEntry(stream, time_ns / 1e9, line if partial else line + b"\n", time_ns, partial=partial)


def split_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete records' messages of a buffer and the incomplete rest (a corrupt size drops the rest)."""
    out: list[bytes] = []
    pos = 0
    while len(buf) - pos >= 4:
        size = int.from_bytes(buf[pos:pos + 4], "big")
        if size > FRAME_MAX:
            return out, b""
        if len(buf) - pos < size + 8:
            break
        out.append(buf[pos + 4:pos + 4 + size])
        pos += size + 8
    return out, buf[pos:]


LOCAL = LogFormat(split_frames, decode_local)
