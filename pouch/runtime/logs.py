"""Reading container logs (how pouchd serves ``docker logs``): conmon's k8s-file format here.

Format (CRI logging, one record per line)::

    2026-11-25T18:57:57.719352609+00:00 stdout F hello
    <RFC3339Nano timestamp>             <stream> <tag> <message without its newline>

Tag ``F`` ends a line (the message was followed by a newline in the container's
output, or by nothing if the container closed the stream); ``P`` is a partial
line that the following records of the same stream continue (conmon splits at
its 8 KiB read buffer and when a read ends without a newline).

Rotation: with ``--log-size-max N`` conmon 2.1.x does not keep old files: when
the next write would push the file past N bytes it opens ``<path>.tmp`` with
O_TRUNC and renames it over ``<path>``, so the log starts again empty (a new
inode). Output written before that is gone. A following reader sees the inode
change, finishes the old file it still has open, and continues at the start of
the new one. (An in-place truncation is handled too: position > size → rewind.)

The same reader serves the log drivers' files (``LogFormat``: how a file is cut into
records and each parsed; json-file and local in ``logformats``), rotated by the log
writer (``logwriter``) by renaming: a follower that missed several rotations reads the
files rotated since its own (``file_identity``) before the new one. Entries are typed
(stream kind, bytes, timestamp); front ends render them in their wire format. Parsing
is pure (parse_line, merge_partials); read_logs does IO.
"""

from __future__ import annotations

import collections
import gzip
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from pouch.runtime.logencode import split_lines
from pouch.stdio import StreamKind

STREAMS = (StreamKind.STDOUT, StreamKind.STDERR)


@dataclass(frozen=True)
class LogEntry:
    stream: StreamKind  # stdout or stderr
    timestamp: float  # epoch seconds
    data: bytes  # the line including its "\n" (none for a final unterminated chunk)
    time_ns: int = 0  # the same instant in epoch nanoseconds (for --timestamps)
    partial: bool = False  # True for a raw P record (parse_line), never after merging
    attrs: tuple[tuple[str, str], ...] = ()  # json-file's "attrs" (labels, env, tag), sorted by key

    def rfc3339(self) -> str:
        """RFC 3339 in UTC with nanoseconds: 2006-01-02T15:04:05.000000000Z (``--timestamps``)."""
        secs, ns = divmod(self.time_ns, 1_000_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


def parse_timestamp_ns(text: str) -> int:
    """RFC 3339 with up to nanosecond precision → epoch nanoseconds."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    frac = 0
    if "." in text:
        head, rest = text.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        digits, zone = rest[:i], rest[i:]
        frac = int((digits + "000000000")[:9]) if digits else 0
        text = head + zone
    dt = datetime.fromisoformat(text)
    return int(dt.timestamp()) * 1_000_000_000 + frac


def parse_line(line: bytes) -> LogEntry | None:
    """One k8s-file record (without or with its trailing newline) → LogEntry.

    Returns None for a malformed record. F records get their newline back.
    """
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0], parts[1], parts[2]
    msg = parts[3] if len(parts) == 4 else b""
    if stream not in (b"stdout", b"stderr") or tag not in (b"P", b"F"):
        return None
    try:
        ns = parse_timestamp_ns(ts.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    partial = tag == b"P"
    return LogEntry(StreamKind(stream.decode()), ns / 1e9, msg if partial else msg + b"\n", ns, partial)


class PartialMerger:
    """Joins P records with their continuation, per stream (pure state machine)."""

    def __init__(self) -> None:
        self._pending: dict[StreamKind, LogEntry] = {}

    def feed(self, entry: LogEntry) -> LogEntry | None:
        """Returns a complete line, or None while a line is still partial."""
        prev = self._pending.pop(entry.stream, None)
        if prev is not None:  # keep the first chunk's timestamp, like docker
            entry = LogEntry(entry.stream, prev.timestamp, prev.data + entry.data, prev.time_ns, entry.partial,
                             entry.attrs)
        if entry.partial:
            self._pending[entry.stream] = entry
            return None
        return entry

    def flush(self) -> list[LogEntry]:
        """Pending partial lines, as they are (no newline added)."""
        out = [LogEntry(e.stream, e.timestamp, e.data, e.time_ns, attrs=e.attrs) for e in self._pending.values()]
        self._pending.clear()
        return sorted(out, key=lambda e: e.time_ns)

    def has_pending(self) -> bool:
        return bool(self._pending)


def merge_partials(entries: Iterable[LogEntry]) -> Iterator[LogEntry]:
    merger = PartialMerger()
    for entry in entries:
        if (merged := merger.feed(entry)) is not None:
            yield merged
    yield from merger.flush()


def parse_log(data: bytes) -> list[LogEntry]:
    """A whole k8s-file's bytes → merged entries (pure; for tests and small logs)."""
    raw = (parse_line(line) for line in data.split(b"\n") if line)
    return list(merge_partials(e for e in raw if e is not None))


def _keep(entry: LogEntry, since: float | None) -> bool:
    return since is None or entry.timestamp >= since


def _past(entry: LogEntry, until: float | None) -> bool:
    return until is not None and entry.timestamp > until


@dataclass(frozen=True)
class LogFormat:
    """How a log file is cut into records and each record parsed (k8s-file here; json-file and
    local in ``logformats``)."""

    split: Callable[[bytes], tuple[list[bytes], bytes]]
    parse: Callable[[bytes], LogEntry | None]


K8S_FILE = LogFormat(split_lines, parse_line)


def _read_whole(path: str) -> bytes:
    """A rotated file's bytes (gunzipped for ``.gz``); empty if it is gone."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as g:
                return g.read()
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, EOFError, gzip.BadGzipFile):
        return b""


def file_identity(path: str) -> int | None:
    """Which file this is across a rotation: its inode, or for a gzipped rotated file the inode
    of the file it was made from (the log writer keeps it as the gzip header's name); None if gone."""
    try:
        if not path.endswith(".gz"):
            return os.stat(path).st_ino
        with open(path, "rb") as f:
            head = f.read(64)
    except FileNotFoundError:  # x.1.gz not written yet: x.1 is still there, being compressed
        return file_identity(path[:-3]) if path.endswith(".gz") else None
    except OSError:
        return None
    if head[:3] != b"\x1f\x8b\x08" or not head[3] & 0x08 or head[3] & 0x04:  # FNAME, no FEXTRA
        return None
    name = head[10:].split(b"\0", 1)[0]
    return int(name) if name.isdigit() else None


class _LogFile:
    """An open log file read record by record, surviving conmon's rotation."""

    def __init__(self, path: str, split: Callable[[bytes], tuple[list[bytes], bytes]] = split_lines) -> None:
        self.path = path
        self.split = split
        self.f: BinaryIO | None = None
        self.ino = 0
        self.buf = b""
        self.open()

    def open(self) -> bool:
        try:
            self.f = open(self.path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            self.f = None
            return False
        self.buf = b""
        self.ino = os.fstat(self.f.fileno()).st_ino
        return True

    def newer_rotated(self, rotated: Sequence[str]) -> list[str]:
        """The rotated files made after the one open here (it was renamed away): read them before
        the new current file, so that following loses nothing when the log rotated several times
        between two reads. Oldest first."""
        identities = [file_identity(p) for p in rotated]
        if self.f is None:
            return []
        if self.ino not in identities:  # gone already (more rotations than files kept): all are newer
            return [p for p, ident in zip(rotated, identities, strict=True) if ident is not None]
        return list(rotated[identities.index(self.ino) + 1:])

    def read_records(self) -> list[bytes]:
        """Complete records available now (partial trailing bytes are kept)."""
        if self.f is None and not self.open():
            return []
        assert self.f is not None
        chunk = self.f.read()
        if not chunk:
            return []
        records, self.buf = self.split(self.buf + chunk)
        return records

    def replaced(self) -> bool:
        """True when conmon renamed a new file over the path, or truncated ours."""
        if self.f is None:
            return os.path.exists(self.path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(self.f.fileno())
        if (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev):
            return True
        if mine.st_size < self.f.tell():  # truncated in place
            self.f.seek(0)
            self.buf = b""
        return False

    def reopen(self) -> None:
        self.close()
        self.open()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def read_logs(
    path: str,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    follow: bool = False,
    should_stop: Callable[[], bool] = lambda: True,
    poll_interval: float = 0.1,
    partial_flush_after: float = 0.5,
    rotated: Sequence[str] = (),
    fmt: LogFormat = K8S_FILE,
) -> Iterator[LogEntry]:
    """Entries of a log (k8s-file unless ``fmt`` says otherwise), partial records merged into lines.

    since/until: epoch seconds, inclusive bounds on the entry timestamp.
    tail: only the last N entries of what is in the file now (None = all).
    rotated: older files of the same log (pouchd's rotation), oldest first,
    read before ``path``.
    follow: keep reading appended data until ``should_stop()`` is true and the
    file is drained (the caller's should_stop says "container exited").
    A partial line at the end of the file is emitted after
    ``partial_flush_after`` seconds without its continuation (so a prompt or
    a progress bar without newline still shows) or at the end.
    """
    lf = _LogFile(path, fmt.split)
    merger = PartialMerger()
    try:
        backlog: Iterable[LogEntry]
        first: list[LogEntry] = []
        if tail is not None and tail >= 0 and since is None and until is None:
            entries: Iterable[LogEntry] = _last_entries(lf.read_records(), rotated, fmt, tail)
        else:
            records: list[bytes] = []
            for older in rotated:
                records.extend(fmt.split(_read_whole(older))[0])
            records.extend(lf.read_records())
            entries = (e for e in map(fmt.parse, records) if e is not None)
        for entry in entries:
            if (merged := merger.feed(entry)) is not None:
                first.append(merged)
        if not follow:
            first.extend(merger.flush())
        backlog = [e for e in first if _keep(e, since) and not _past(e, until)]
        if tail is not None:
            backlog = collections.deque(backlog, maxlen=max(tail, 0)) if tail >= 0 else backlog
        yield from backlog
        if not follow or any(_past(e, until) for e in first):
            return
        yield from _follow(lf, merger, since, until, should_stop, poll_interval, partial_flush_after, fmt,
                           rotated)
    finally:
        lf.close()


def _last_entries(current: list[bytes], rotated: Sequence[str], fmt: LogFormat, count: int) -> list[LogEntry]:
    """The records of the last ``count`` lines (a line's partial records with it, and a partial
    line at the very end), oldest first: parsed from the end, the older files read only if the
    newer ones hold too few (``logs --tail N`` of a large rotated log stays fast)."""
    picked: list[LogEntry] = []
    complete = 0
    if count == 0:
        return picked
    sources = itertools.chain([current], (fmt.split(_read_whole(p))[0] for p in reversed(rotated)))
    for records in sources:
        for rec in reversed(records):
            entry = fmt.parse(rec)
            if entry is None:
                continue
            if not entry.partial:
                if complete == count:
                    picked.reverse()
                    return picked
                complete += 1
            picked.append(entry)
    picked.reverse()
    return picked


def _follow(
    lf: _LogFile,
    merger: PartialMerger,
    since: float | None,
    until: float | None,
    should_stop: Callable[[], bool],
    poll_interval: float,
    partial_flush_after: float,
    fmt: LogFormat = K8S_FILE,
    rotated: Sequence[str] = (),
) -> Iterator[LogEntry]:
    parse = fmt.parse
    last_data = time.monotonic()
    while True:
        stopping = should_stop()  # sample before reading: what is written before it counts
        records = lf.read_records()
        if not records and lf.replaced():
            records = lf.read_records()  # the rest of the old file, the files rotated since, then switch
            for newer in lf.newer_rotated(rotated):
                records += fmt.split(_read_whole(newer))[0]
            lf.reopen()
            records += lf.read_records()
        if records:
            last_data = time.monotonic()
        for rec in records:
            entry = parse(rec)
            if entry is None or (merged := merger.feed(entry)) is None:
                continue
            if _past(merged, until):
                return
            if _keep(merged, since):
                yield merged
        if records:
            continue
        if merger.has_pending() and (stopping or time.monotonic() - last_data >= partial_flush_after):
            for e in merger.flush():
                if _keep(e, since) and not _past(e, until):
                    yield e
        if stopping:
            return
        time.sleep(poll_interval)


def read_plain_log(
    path: str,
    tail: int | None = None,
    follow: bool = False,
    should_stop: Callable[[], bool] = lambda: True,
    poll_interval: float = 0.1,
) -> Iterator[LogEntry]:
    """The lines of a plain text log (a rich container's init console, written by the
    container itself: no per-line time, so each entry carries the file's modification
    time), as stdout entries; ``tail`` and ``follow`` as :func:`read_logs`. A missing
    file is an empty log; anything but a regular file is not read (O_NOFOLLOW, O_NONBLOCK)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        lines = f.read().splitlines(keepends=True)
        rest = lines.pop() if follow and lines and not lines[-1].endswith(b"\n") else b""
        if tail is not None and tail >= 0:
            lines = lines[-tail:] if tail else []
        yield from _plain_entries(lines, os.fstat(fd).st_mtime_ns)
        while follow:
            stopping = should_stop()
            data = f.read()
            if data:
                *done, rest = (rest + data).split(b"\n")
                yield from _plain_entries([line + b"\n" for line in done], os.fstat(fd).st_mtime_ns)
                continue
            if stopping:
                break
            time.sleep(poll_interval)
        if rest:
            yield from _plain_entries([rest], os.fstat(fd).st_mtime_ns)


def _plain_entries(lines: Iterable[bytes], mtime_ns: int) -> Iterator[LogEntry]:
    for line in lines:
        yield LogEntry(StreamKind.STDOUT, mtime_ns / 1e9, line, time_ns=mtime_ns)
