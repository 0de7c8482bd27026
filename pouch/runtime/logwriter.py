"""The log writer: the process that writes one container's log in its driver's format.

conmon writes the container's output as k8s-file records into a FIFO (``<exec-root>/logfifos/<id>``);
this process reads them and writes json-file or local files (rotating them itself, so the
budget ``max-size`` × ``max-file`` holds at any write rate: a file is rotated before the record
that would take it past ``max-size`` is written) or sends syslog messages. Like conmon it lives
apart from pouchd (double fork, its own session): pouchd can restart while it writes. When the
container's output ends (conmon closes the FIFO) it drains what is left and exits. If it is
slow the FIFO fills and conmon, then the container, wait: output is never dropped for speed.

Started as ``python -I -m pouch.runtime.logwriter KEY=VALUE...`` (``services/logsinks.py``: the
:class:`WriterSpec`); it imports only C-backed standard modules, to start fast with each
container. Once ready it prints ``OK <pid>`` (or ``ERR <message>``) on stdout and closes it.
"""

from __future__ import annotations

import _signal as signal  # `signal` would import enum
import os
import select
import sys
import zlib

from pouch.runtime import logencode

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing, dataclasses, json, socket: ~100 ms of imports in each writer
    import socket
    from collections.abc import Callable

    Emit = Callable[[list[tuple[str, bytes, int, str]]], None]  # [(stream, data, time_ns, time text)]

JSON_FILE, LOCAL, SYSLOG = "json-file", "local", "syslog"  # runtime/logconfig.py's names

NO_WRITER_TIMEOUT_MS = 300_000  # conmon never opened the FIFO (a create that failed early)
READ_SIZE = 1 << 16


class WriterSpec:
    """What one writer does, passed on its command line as ``KEY=VALUE`` arguments."""

    __slots__ = ("fifo", "driver", "path", "max_size", "max_files", "compress", "syslog_address",
                 "syslog_facility", "syslog_format", "tag", "hostname", "attrs")

    def __init__(self, fifo: str, driver: str, path: str = "", max_size: int = 0, max_files: int = 1,
                 compress: bool = False, syslog_address: str = "", syslog_facility: int = 3,
                 syslog_format: str = "", tag: str = "", hostname: str = "", attrs: str = "") -> None:
        self.fifo, self.driver, self.path = fifo, driver, path  # path: json-file, local: the current file
        self.max_size, self.max_files, self.compress = max_size, max_files, compress
        self.syslog_address, self.syslog_facility, self.syslog_format = syslog_address, syslog_facility, syslog_format
        self.tag, self.hostname = tag, hostname
        self.attrs = attrs  # json-file: each line's "attrs" object, encoded (logencode.encode_attrs)

    def to_argv(self) -> list[str]:
        return [f"{name}={int(v) if isinstance(v, bool) else v}" for name in self.__slots__
                if (v := getattr(self, name)) not in ("", None)]

    @classmethod
    def from_argv(cls, argv: list[str]) -> WriterSpec:
        values: dict = dict(arg.split("=", 1) for arg in argv)
        for key in ("max_size", "max_files", "syslog_facility"):
            if key in values:
                values[key] = int(values[key])
        if "compress" in values:
            values["compress"] = values["compress"] == "1"
        return cls(**values)


def rotated_names(path: str, max_files: int, compress: bool) -> list[str]:
    """The rotated files of a log, newest first: ``x.1[.gz] .. x.(max_files-1)[.gz]``."""
    suffix = ".gz" if compress else ""
    return [f"{path}.{n}{suffix}" for n in range(1, max_files)]


def gzip_file(src: str, dst: str) -> None:
    """``src`` gzipped into ``dst`` (written aside, then renamed), ``src`` removed. The gzip header's
    name is ``src``'s inode: a following reader knows the file it had open (``logs.file_identity``)."""
    tmp = dst + ".tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        ino = os.fstat(fin.fileno()).st_ino
        fout.write(b"\x1f\x8b\x08\x08" + b"\0\0\0\0" + b"\x00\x03" + str(ino).encode() + b"\0")  # FNAME
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        crc = size = 0
        while chunk := fin.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            fout.write(comp.compress(chunk))
        fout.write(comp.flush() + crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little"))
    os.rename(tmp, dst)
    os.unlink(src)


class FileSink:
    """Records appended to ``path``; rotated before a record would take it past ``max_size``."""

    def __init__(self, path: str, max_size: int, max_files: int, compress: bool) -> None:
        self.path, self.max_size, self.max_files, self.compress = path, max_size, max_files, compress
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.fd = self._open(truncate=False)
        self.size = os.fstat(self.fd).st_size

    def _open(self, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
        return os.open(self.path, flags, 0o640)

    def write(self, records: list[bytes]) -> None:
        pending: list[bytes] = []
        size = self.size
        for rec in records:
            if self.max_size and size and size + len(rec) > self.max_size:
                self._write_all(b"".join(pending))
                pending = []
                self.rotate()
                size = 0
            pending.append(rec)
            size += len(rec)
        self._write_all(b"".join(pending))

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self.size += n

    def rotate(self) -> None:
        os.close(self.fd)
        names = rotated_names(self.path, self.max_files, self.compress)
        if names:
            _unlink(names[-1])
            for older, newer in zip(reversed(names[1:]), reversed(names[:-1]), strict=True):
                try:
                    os.rename(newer, older)
                except FileNotFoundError:
                    pass
            if self.compress:
                os.rename(self.path, f"{self.path}.1")
                gzip_file(f"{self.path}.1", names[0])
            else:
                os.rename(self.path, names[0])
        self.fd = self._open(truncate=True)  # max_files 1: the file starts again
        self.size = 0

    def close(self) -> None:
        os.close(self.fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class SyslogSink:
    """Each line a syslog message to a unix (datagram, else stream), udp or tcp address."""

    def __init__(self, spec: WriterSpec) -> None:
        import socket  # noqa: PLC0415 - lazy: only syslog writers need it (~15 ms of imports)

        self.socket = socket
        self.spec = spec
        scheme, _, rest = spec.syslog_address.partition("://")
        self.scheme, self.rest = scheme, rest
        self.network = scheme in ("udp", "tcp")
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        socket = self.socket
        if self.scheme in ("unix", "unixgram"):
            kinds = (socket.SOCK_DGRAM, socket.SOCK_STREAM) if self.scheme == "unix" else (socket.SOCK_DGRAM,)
            err: OSError | None = None
            for kind in kinds:
                sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
                try:
                    sock.connect(self.rest)
                    return sock
                except OSError as e:
                    sock.close()
                    err = e
            assert err is not None
            raise err
        host, _, port = self.rest.rpartition(":")
        kind = socket.SOCK_DGRAM if self.scheme == "udp" else socket.SOCK_STREAM
        if kind == socket.SOCK_STREAM:
            return socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        info = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(info[0], socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.connect(info[4])
        return sock

    def send(self, stream: str, data: bytes, time_ns: int) -> None:
        text = data.rstrip(b"\n").decode("utf-8", "replace")
        if not text:
            return
        msg = logencode.syslog_message(facility=self.spec.syslog_facility, stream=stream, text=text,
                                        tag=self.spec.tag, pid=os.getpid(), time_ns=time_ns,
                                        fmt=self.spec.syslog_format, hostname=self.spec.hostname,
                                        network=self.network)
        if self.sock.type == self.socket.SOCK_STREAM:
            msg += b"\n"
        try:
            self.sock.sendall(msg)
        except OSError:  # the syslog daemon restarted: one new connection, else the line is lost
            try:
                self.sock.close()
                self.sock = self._connect()
                self.sock.sendall(msg)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def make_emit(spec: WriterSpec) -> tuple[Emit, Callable[[], None]]:
    """The driver's output: a function taking parsed records, and its close."""
    if spec.driver == SYSLOG:
        syslog = SyslogSink(spec)

        def to_syslog(recs: list[tuple[str, bytes, int, str]]) -> None:
            for stream, data, ns, _text in recs:
                syslog.send(stream, data, ns)
        return to_syslog, syslog.close
    sink = FileSink(spec.path, spec.max_size, spec.max_files, spec.compress)
    if spec.driver == JSON_FILE:
        attrs = spec.attrs
        return (lambda recs: sink.write([logencode.encode_json(s, d, t, attrs) for s, d, _n, t in recs])), sink.close
    if spec.driver == LOCAL:
        return (lambda recs: sink.write([logencode.encode_local(s, d, n) for s, d, n, _t in recs])), sink.close
    raise ValueError(f"no log writer for driver {spec.driver}")


def parse_records(lines: list[bytes], times: logencode.TimeCache) -> list[tuple[str, bytes, int, str]]:
    """conmon's k8s-file records → (stream, data with its newline unless partial, ns, Docker's time)."""
    out = []
    for line in lines:
        parts = line.split(b" ", 3)
        if len(parts) < 3 or parts[2] not in (b"P", b"F"):
            continue
        try:
            ns, text = times.k8s(parts[0].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            continue
        msg = parts[3] if len(parts) == 4 else b""
        out.append((parts[1].decode("ascii", "replace"), msg if parts[2] == b"P" else msg + b"\n", ns, text))
    return out


def pump(fd: int, emit: Emit) -> None:
    """Until the writer side has come and gone and the FIFO is drained."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    times, rest, connected = logencode.TimeCache(), b"", False
    while True:
        events = poller.poll(None if connected else NO_WRITER_TIMEOUT_MS)
        if not events:
            return  # nobody ever opened the FIFO for writing
        connected = True
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            continue
        if not chunk:
            if rest:
                emit(parse_records([rest], times))
            return
        lines, rest = logencode.split_lines(rest + chunk)
        if lines:
            emit(parse_records(lines, times))


def serve(spec: WriterSpec) -> None:
    fd = os.open(spec.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mine = os.fstat(fd)
    try:
        emit, close = make_emit(spec)
    except (OSError, ValueError) as e:
        print(f"ERR {spec.driver}: {e}", flush=True)
        sys.exit(1)
    if os.fork():
        os._exit(0)
    print(f"OK {os.getpid()}", flush=True)
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    try:
        pump(fd, emit)
    finally:
        close()
        try:  # unless the next run made a new one there
            st = os.stat(spec.fifo)
            if (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                os.unlink(spec.fifo)
        except FileNotFoundError:
            pass


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(WriterSpec.from_argv(argv[1:]))


if __name__ == "__main__":
    main(sys.argv)
