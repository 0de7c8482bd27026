"""SPDY/3.1 framing, sans-IO (as h11 is for HTTP/1.1): bytes in → frames out, frames in → bytes out.

kubelet's streaming protocols (remote command, port forward) run on SPDY/3.1 after an HTTP
upgrade: each stdio stream or forwarded connection is one SPDY stream, opened by the client
with SYN_STREAM and headers saying what it carries. Nothing here touches a socket.

- :class:`FrameCodec` turns bytes into typed frames and back, compressing name/value header
  blocks with zlib primed with the SPDY/3 dictionary (one zlib stream per direction).
- :class:`Connection` adds the connection's state: stream ids, replies to PING, and flow control
  windows (per stream, and the session window of 3.1). The receive side hands out WINDOW_UPDATEs
  as data arrives. The send side enforces the peer's windows only once the peer has shown that
  it does flow control (it sent a WINDOW_UPDATE; the session window once it sent one for stream
  0, as a SPDY/3 peer never does): Go's spdystream, which kubelet and client-go use, sends none,
  and a strict sender would stall after 64 KiB.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from pouch.cri.streaming.spdy_dictionary import DICTIONARY

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
DEFAULT_WINDOW = 64 * 1024  # SPDY/3's initial window, per stream and (3.1) per session
MAX_DATA_FRAME = 16 * 1024  # the largest data frame this side sends
MAX_FRAME_LENGTH = 0xFFFFFF
SETTINGS_INITIAL_WINDOW_SIZE = 7

Headers = tuple[tuple[str, str], ...]


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7


class ProtocolError(Exception):
    """The peer sent something SPDY/3 does not allow; the connection cannot go on."""


# --- frames --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    fin: bool = False
    unidirectional: bool = False
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = ()
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...]  # (flags, id, value)


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


Frame = SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate | Data


def header(headers: Headers, name: str) -> str:
    """A header's value (names compare case-insensitively; Go's peers send them lower-case)."""
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), "")


# --- header blocks -------------------------------------------------------------------------------


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block: a count, then length-prefixed names and values."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers:
        raw_name, raw_value = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    """The pairs of an uncompressed block; a value holding NULs is several values of one name."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos, pairs = 4, []
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            pairs += [(name, v) for v in value.split("\0")]
    except (struct.error, UnicodeDecodeError) as err:
        raise ProtocolError(f"malformed header block: {err}") from None
    if pos != len(block):
        raise ProtocolError("malformed header block: trailing bytes")
    return tuple(pairs)


class _Compressor:
    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                   zdict=DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._z.compress(encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class _Decompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            return decode_header_block(self._z.decompress(data))
        except zlib.error as err:
            raise ProtocolError(f"header block does not inflate: {err}") from None


# --- the codec -----------------------------------------------------------------------------------


def _control(kind: FrameType, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


class FrameCodec:
    """Frames to bytes and bytes to frames for one side of a connection (header compression
    state included: frames must be encoded, and fed, in the order they travel)."""

    def __init__(self) -> None:
        self._compressor = _Compressor()
        self._decompressor = _Decompressor()
        self._buffer = bytearray()

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case Data(stream_id, data, fin):
                return struct.pack(">II", stream_id & 0x7FFFFFFF, (FLAG_FIN if fin else 0) << 24 | len(data)) + data
            case SynStream():
                flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
                payload = struct.pack(">IIBB", frame.stream_id, frame.associated_id, (frame.priority & 7) << 5, 0)
                return _control(FrameType.SYN_STREAM, flags, payload + self._compressor.compress(frame.headers))
            case SynReply(stream_id, headers, fin):
                payload = struct.pack(">I", stream_id) + self._compressor.compress(headers)
                return _control(FrameType.SYN_REPLY, FLAG_FIN if fin else 0, payload)
            case HeadersFrame(stream_id, headers, fin):
                payload = struct.pack(">I", stream_id) + self._compressor.compress(headers)
                return _control(FrameType.HEADERS, FLAG_FIN if fin else 0, payload)
            case RstStream(stream_id, status):
                return _control(FrameType.RST_STREAM, 0, struct.pack(">II", stream_id, status))
            case Settings(entries):
                body = b"".join(struct.pack(">I", (f << 24) | i) + struct.pack(">I", v) for f, i, v in entries)
                return _control(FrameType.SETTINGS, 0, struct.pack(">I", len(entries)) + body)
            case Ping(ping_id):
                return _control(FrameType.PING, 0, struct.pack(">I", ping_id))
            case GoAway(last, status):
                return _control(FrameType.GOAWAY, 0, struct.pack(">II", last, status))
            case WindowUpdate(stream_id, delta):
                return _control(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by ``data`` (a partial frame waits for more bytes)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            word, flags_length = struct.unpack_from(">II", self._buffer, 0)
            length = flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = flags_length >> 24
            if word & 0x80000000:
                frame = self._control_frame(word, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(Data(word & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control_frame(self, word: int, flags: int, payload: bytes) -> Frame | None:
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        try:
            return self._decode_control(kind, flags, payload)
        except struct.error:
            raise ProtocolError(f"control frame {kind} too short ({len(payload)} bytes)") from None

    def _decode_control(self, kind: int, flags: int, payload: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        if kind == FrameType.SYN_STREAM:
            stream_id, associated, priority, _slot = struct.unpack_from(">IIBB", payload, 0)
            return SynStream(stream_id & 0x7FFFFFFF, self._decompressor.decompress(payload[10:]), fin,
                             bool(flags & FLAG_UNIDIRECTIONAL), associated & 0x7FFFFFFF, priority >> 5)
        if kind in (FrameType.SYN_REPLY, FrameType.HEADERS):
            (stream_id,) = struct.unpack_from(">I", payload, 0)
            headers = self._decompressor.decompress(payload[4:])
            cls = SynReply if kind == FrameType.SYN_REPLY else HeadersFrame
            return cls(stream_id & 0x7FFFFFFF, headers, fin)
        if kind == FrameType.RST_STREAM:
            stream_id, status = struct.unpack_from(">II", payload, 0)
            return RstStream(stream_id & 0x7FFFFFFF, status)
        if kind == FrameType.SETTINGS:
            (count,) = struct.unpack_from(">I", payload, 0)
            entries = []
            for i in range(count):
                flags_id, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                entries.append((flags_id >> 24, flags_id & 0xFFFFFF, value))
            return Settings(tuple(entries))
        if kind == FrameType.PING:
            return Ping(struct.unpack_from(">I", payload, 0)[0])
        if kind == FrameType.GOAWAY:
            last = struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF
            status = struct.unpack_from(">I", payload, 4)[0] if len(payload) >= 8 else 0
            return GoAway(last, status)
        if kind == FrameType.WINDOW_UPDATE:
            stream_id, delta = struct.unpack_from(">II", payload, 0)
            return WindowUpdate(stream_id & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return None  # an unknown control frame is ignored, as the spec asks


# --- the connection ------------------------------------------------------------------------------


@dataclass
class _Stream:
    send_window: int
    recv_window: int
    local_closed: bool = False
    remote_closed: bool = False


@dataclass
class Connection:
    """One side of a SPDY/3.1 connection: frames to send, events received, windows kept.

    ``receive_data`` returns the frames the peer sent (the application acts on SynStream, Data,
    RstStream, GoAway...); PINGs from the peer are answered and WINDOW_UPDATEs owed are queued,
    both in ``data_to_send``.
    """

    client: bool
    initial_window: int = DEFAULT_WINDOW
    streams: dict[int, _Stream] = field(default_factory=dict)
    codec: FrameCodec = field(default_factory=FrameCodec)
    peer_flow_control: bool = False  # the peer sent a WINDOW_UPDATE: its stream windows are kept
    peer_session_flow_control: bool = False  # one for stream 0 (SPDY/3.1): its session window is kept too
    session_send_window: int = DEFAULT_WINDOW
    session_recv_window: int = DEFAULT_WINDOW
    peer_initial_window: int = DEFAULT_WINDOW
    _next_id: int = 0
    _out: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._next_id = 1 if self.client else 2

    # -- sending
    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def _send(self, frame: Frame) -> None:
        self._out += self.codec.encode(frame)

    def open_stream(self, headers: Headers, fin: bool = False) -> int:
        stream_id = self._next_id
        self._next_id += 2
        self.streams[stream_id] = _Stream(self.peer_initial_window, self.initial_window, local_closed=fin)
        self._send(SynStream(stream_id, headers, fin))
        return stream_id

    def reply(self, stream_id: int, headers: Headers = (), fin: bool = False) -> None:
        self._send(SynReply(stream_id, headers, fin))
        if fin:
            self._close_local(stream_id)

    def reset(self, stream_id: int, status: int = RstStatus.CANCEL) -> None:
        self._send(RstStream(stream_id, status))
        self.streams.pop(stream_id, None)

    def ping(self, ping_id: int) -> None:
        self._send(Ping(ping_id))

    def go_away(self, last_good_stream_id: int = 0) -> None:
        self._send(GoAway(last_good_stream_id))

    def send_window(self, stream_id: int) -> int:
        """How many bytes of data the peer accepts now on ``stream_id`` (unbounded without
        flow control from the peer); 0 for a stream that is gone or closed on this side."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.local_closed:
            return 0
        if not self.peer_flow_control:
            return MAX_FRAME_LENGTH
        if not self.peer_session_flow_control:
            return max(0, stream.send_window)
        return max(0, min(stream.send_window, self.session_send_window))

    def send_data(self, stream_id: int, data: bytes, fin: bool = False) -> int:
        """Queue as much of ``data`` as the windows allow (all of it, with FIN if asked, or a
        part without FIN); the count queued. Data for a stream gone is dropped (0)."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.local_closed:
            return 0
        n = min(len(data), self.send_window(stream_id))
        sent = 0
        while True:
            chunk = data[sent:min(n, sent + MAX_DATA_FRAME)]
            sent += len(chunk)
            last = sent >= len(data) and fin
            if chunk or last:
                self._send(Data(stream_id, chunk, last))
            if sent >= n:
                break
        stream.send_window -= sent
        self.session_send_window -= sent
        if sent >= len(data) and fin:
            self._close_local(stream_id)
        return sent

    def _close_local(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.local_closed = True
            if stream.remote_closed:
                del self.streams[stream_id]

    def _close_remote(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.remote_closed = True
            if stream.local_closed:
                del self.streams[stream_id]

    # -- receiving
    def receive_data(self, data: bytes) -> list[Frame]:
        events = self.codec.feed(data)
        for frame in events:
            self._account(frame)
        return events

    def _account(self, frame: Frame) -> None:
        match frame:
            case SynStream(stream_id, _, fin):
                if stream_id in self.streams or stream_id == 0:
                    raise ProtocolError(f"SYN_STREAM for stream {stream_id} already open or invalid")
                self.streams[stream_id] = _Stream(self.peer_initial_window, self.initial_window, remote_closed=fin)
            case Data(stream_id, data, fin):
                self._received(stream_id, len(data))
                if fin:
                    self._close_remote(stream_id)
            case SynReply(stream_id, _, fin) | HeadersFrame(stream_id, _, fin):
                if fin:
                    self._close_remote(stream_id)
            case RstStream(stream_id, _):
                self.streams.pop(stream_id, None)
            case Ping(ping_id):
                if (ping_id % 2 == 1) != self.client:  # the peer's ping (client pings are odd): echo it
                    self._send(frame)
            case WindowUpdate(stream_id, delta):
                self.peer_flow_control = True
                if stream_id == 0:
                    self.peer_session_flow_control = True
                    self.session_send_window += delta
                elif stream_id in self.streams:
                    self.streams[stream_id].send_window += delta
            case Settings(entries):
                self._settings(entries)

    def _settings(self, entries: Iterable[tuple[int, int, int]]) -> None:
        for _flags, key, value in entries:
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta

    def _received(self, stream_id: int, n: int) -> None:
        """Data consumed: give the windows back once half of one is used (the application
        takes data as it comes, so receiving is consuming here)."""
        self.session_recv_window -= n
        if self.session_recv_window <= DEFAULT_WINDOW // 2:
            self._send(WindowUpdate(0, DEFAULT_WINDOW - self.session_recv_window))
            self.session_recv_window = DEFAULT_WINDOW
        stream = self.streams.get(stream_id)
        if stream is None or n == 0:
            return
        stream.recv_window -= n
        if stream.recv_window <= self.initial_window // 2 and not stream.remote_closed:
            self._send(WindowUpdate(stream_id, self.initial_window - stream.recv_window))
            stream.recv_window = self.initial_window
