"""The on-disk and wire formats of the log drivers (pure: bytes in, bytes or entries out).

- json-file, Docker's ``jsonlog``: ``{"log":"hi\\n","stream":"stdout","time":"<RFC3339 with 9 digits>Z"}``
  a line; a partial line (conmon's ``P`` record, cut at its buffer) has no newline in ``log``.
- local, Docker's ``local`` driver: each record a protobuf ``LogEntry`` (source=1, time_nano=2,
  line=3 without its newline, partial=4) framed by its length as a big-endian uint32 before and after.
- syslog: one message a line, RFC 3164 (Docker's unix and network formatters) or RFC 5424.
"""

from __future__ import annotations

import json
import struct
import time
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from pouch.runtime.logs import LogEntry, LogFormat, parse_timestamp_ns, split_lines
from pouch.stdio import StreamKind

_STREAMS = {"stdout": StreamKind.STDOUT, "stderr": StreamKind.STDERR}
_U32 = struct.Struct(">I")
FRAME_MAX = 1 << 20  # Docker's local driver: a record is at most 1 MiB


def rfc3339_nano(time_ns: int) -> str:
    """Go's RFC3339NanoFixed in UTC: ``2006-01-02T15:04:05.000000000Z``."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


# ----------------------------------------------------------------------------- json-file
def _go_json_string(text: str) -> str:
    """A JSON string as Go's encoder writes it (HTML characters and line separators escaped)."""
    out = encode_basestring(text)
    if "<" in out or ">" in out or "&" in out or "\u2028" in out or "\u2029" in out:
        out = (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
               .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return out


def encode_json(stream: str, data: bytes, time_text: str) -> bytes:
    """One json-file line; ``data`` is the line with its newline (none if partial)."""
    return (f'{{"log":{_go_json_string(data.decode("utf-8", "replace"))},"stream":"{stream}",'
            f'"time":"{time_text}"}}\n').encode()


class TimeCache:
    """Timestamps re-spelled or parsed once per distinct text (lines of one read share one)."""

    def __init__(self) -> None:
        self._last_in = ""
        self._last_out: tuple[int, str] = (0, "")

    def k8s(self, text: str) -> tuple[int, str]:
        """conmon's timestamp → (epoch ns, Docker's spelling)."""
        if text != self._last_in:
            ns = parse_timestamp_ns(text)
            self._last_in, self._last_out = text, (ns, rfc3339_nano(ns))
        return self._last_out


def decode_json(line: bytes, times: dict[str, int] | None = None) -> LogEntry | None:
    """A json-file line → entry (``partial`` when its text has no newline); None if malformed."""
    try:
        obj = json.loads(line)
        stream = _STREAMS[obj.get("stream", "stdout")]
        text, stamp = obj["log"], obj["time"]
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
    return LogEntry(stream, ns / 1e9, data, ns, partial=not data.endswith(b"\n"))


_TIMES: dict[str, int] = {}  # time text → ns, shared by readers (lines of one write share a time)

JSON_FILE = LogFormat(split_lines, lambda line: decode_json(line, _TIMES))


# ----------------------------------------------------------------------------- local
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_local(stream: str, data: bytes, time_ns: int) -> bytes:
    """One framed record of Docker's local driver (``data`` with its newline unless partial)."""
    partial = not data.endswith(b"\n")
    line = data if partial else data[:-1]
    src = stream.encode()
    msg = (b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_ns) + b"\x1a" + _varint(len(line)) + line
           + (b"\x20\x01" if partial else b""))
    size = _U32.pack(len(msg))
    return size + msg + size


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
        (size,) = _U32.unpack_from(buf, pos)
        if size > FRAME_MAX:
            return out, b""
        if len(buf) - pos < size + 8:
            break
        out.append(buf[pos + 4:pos + 4 + size])
        pos += size + 8
    return out, buf[pos:]


LOCAL = LogFormat(split_frames, decode_local)


# ----------------------------------------------------------------------------- syslog
def syslog_message(*, facility: int, stream: str, text: str, tag: str, pid: int, time_ns: int, fmt: str,
                   hostname: str, network: bool) -> bytes:
    """One syslog message: severity info for stdout, err for stderr (Docker's choice)."""
    pri = facility * 8 + (3 if stream == "stderr" else 6)
    secs = time_ns / 1e9
    if fmt in ("rfc5424", "rfc5424micro"):
        frac = f".{int(time_ns % 1_000_000_000) // 1000:06d}" if fmt == "rfc5424micro" else ""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + frac + "Z"
        return f"<{pri}>1 {stamp} {hostname} {tag} {pid} {tag} - {text}".encode()
    if network:  # Docker's default formatter for udp/tcp: RFC 3164 with an RFC 3339 time and the host
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))
        return f"<{pri}>{stamp} {hostname} {tag}[{pid}]: {text}".encode()
    local = time.localtime(secs)
    stamp = time.strftime("%b ", local) + f"{local.tm_mday:>2}" + time.strftime(" %H:%M:%S", local)  # Go's Stamp
    return f"<{pri}>{stamp} {tag}[{pid}]: {text}".encode()
