"""Writing the log drivers' records (pure; imported by the log writer process, so it imports
only C-backed modules of the standard library: a writer starts with every container).

- json-file, Docker's ``jsonlog``: ``{"log":"hi\\n","stream":"stdout","time":"<RFC3339 with 9 digits>Z"}``
  a line; a partial line (conmon's ``P`` record, cut at its buffer) has no newline in ``log``.
- local, Docker's ``local`` driver: each record a protobuf ``LogEntry`` (source=1, time_nano=2,
  line=3 without its newline, partial=4) framed by its length as a big-endian uint32 before and after.
- syslog: one message a line, RFC 3164 (Docker's unix and network formatters) or RFC 5424.
"""

from __future__ import annotations

import time
from _json import encode_basestring  # the C encoder: `json` would import `re` (~20 ms per writer)

_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def split_lines(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of a buffer (empty ones dropped) and the unterminated rest."""
    *lines, rest = buf.split(b"\n")
    return [line for line in lines if line], rest


def rfc3339_nano(time_ns: int) -> str:
    """Go's RFC3339NanoFixed in UTC: ``2006-01-02T15:04:05.000000000Z``."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


def _days_from_epoch(year: int, month: int, day: int) -> int:
    y = year - 1
    leap = month > 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month - 1] + leap + day - 1
    return days - 719162  # days from 0001-01-01 to 1970-01-01


def parse_rfc3339_ns(text: str) -> int:
    """``2026-12-08T05:00:00.123456789+01:00`` (or ``Z``, any fraction) → epoch ns; ValueError if not."""
    if len(text) < 20 or text[4] != "-" or text[7] != "-" or text[10] != "T" or text[13] != ":" or text[16] != ":":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    secs = (_days_from_epoch(int(text[0:4]), int(text[5:7]), int(text[8:10])) * 86400
            + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19]))
    i, frac = 19, 0
    if text[i] == ".":
        j = i + 1
        while j < len(text) and text[j].isdigit():
            j += 1
        frac = int((text[i + 1:j] + "000000000")[:9])
        i = j
    zone = text[i:]
    if zone not in ("Z", "z"):
        if len(zone) != 6 or zone[0] not in "+-" or zone[3] != ":":
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        secs -= offset if zone[0] == "+" else -offset
    return secs * 1_000_000_000 + frac


class TimeCache:
    """conmon's timestamps re-spelled once per distinct text (the lines of one read share one)."""

    def __init__(self) -> None:
        self._last_in = ""
        self._last_out: tuple[int, str] = (0, "")

    def k8s(self, text: str) -> tuple[int, str]:
        """conmon's timestamp → (epoch ns, Docker's spelling)."""
        if text != self._last_in:
            ns = parse_rfc3339_ns(text)
            self._last_in, self._last_out = text, (ns, rfc3339_nano(ns))
        return self._last_out


# ----------------------------------------------------------------------------- json-file
def go_json_string(text: str) -> str:
    """A JSON string as Go's encoder writes it (HTML characters and line separators escaped)."""
    out = encode_basestring(text)
    if "<" in out or ">" in out or "&" in out or "\u2028" in out or "\u2029" in out:
        out = (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
               .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return out


def encode_json(stream: str, data: bytes, time_text: str, attrs: str = "") -> bytes:
    """One json-file line; ``data`` is the line with its newline (none if partial); ``attrs`` the
    ``"attrs"`` object already encoded (:func:`encode_attrs`), or empty."""
    extra = f',"attrs":{attrs}' if attrs else ""
    return (f'{{"log":{go_json_string(data.decode("utf-8", "replace"))},"stream":"{stream}"{extra},'
            f'"time":"{time_text}"}}\n').encode()


def encode_attrs(attrs: dict[str, str]) -> str:
    """A json-file line's ``attrs`` as Go's ``json.Marshal`` of a map writes it (keys sorted)."""
    if not attrs:
        return ""
    return "{" + ",".join(f"{go_json_string(k)}:{go_json_string(v)}" for k, v in sorted(attrs.items())) + "}"


# ----------------------------------------------------------------------------- local
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def encode_local(stream: str, data: bytes, time_ns: int) -> bytes:
    """One framed record of Docker's local driver (``data`` with its newline unless partial)."""
    partial = not data.endswith(b"\n")
    line = data if partial else data[:-1]
    src = stream.encode()
    msg = (b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_ns) + b"\x1a" + _varint(len(line)) + line
           + (b"\x20\x01" if partial else b""))
    size = len(msg).to_bytes(4, "big")
    return size + msg + size


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
