"""SPDY/3.1 framing, frame by frame: the codec's bytes against the spec's layout, and back."""

from __future__ import annotations

import struct
import zlib

import pytest

from pouch.cri.streaming import spdy
from pouch.cri.streaming.spdy import (
    Connection,
    Data,
    FrameCodec,
    GoAway,
    HeadersFrame,
    Ping,
    ProtocolError,
    RstStream,
    Settings,
    SynReply,
    SynStream,
    WindowUpdate,
)
from pouch.cri.streaming.spdy_dictionary import DICTIONARY


def test_dictionary_is_spdy3s():
    # the draft's dictionary: 1423 bytes, zlib dictionary id (adler32) 0xe3c6a7c2
    assert len(DICTIONARY) == 1423
    assert zlib.adler32(DICTIONARY) == 0xE3C6A7C2


def roundtrip(frame):
    wire = FrameCodec().encode(frame)
    assert FrameCodec().feed(wire) == [frame]
    return wire


def test_data_frame_layout():
    wire = roundtrip(Data(5, b"hello", fin=True))
    # C bit clear, 31-bit stream id, flags FIN, 24-bit length, payload
    assert wire == struct.pack(">II", 5, 0x01000005) + b"hello"


def test_empty_data_frame_with_fin():
    assert roundtrip(Data(3, b"", fin=True)) == struct.pack(">II", 3, 0x01000000)


def test_control_frame_header_layout():
    wire = roundtrip(Ping(7))
    # C bit, version 3, type 6, no flags, length 4, the ping id
    assert wire == bytes([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04]) + struct.pack(">I", 7)


@pytest.mark.parametrize("frame", [
    RstStream(3, spdy.RstStatus.CANCEL),
    GoAway(9, 0),
    WindowUpdate(0, 1000),
    WindowUpdate(5, 65536),
    Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 131072), (1, 4, 100))),
])
def test_fixed_control_frames_roundtrip(frame):
    roundtrip(frame)


def test_rst_stream_layout():
    wire = FrameCodec().encode(RstStream(3, 5))
    assert wire == bytes([0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08]) + struct.pack(">II", 3, 5)


def test_syn_stream_carries_flags_priority_and_compressed_headers():
    frame = SynStream(1, (("streamtype", "error"), ("port", "80")), fin=False, unidirectional=True, priority=2)
    wire = FrameCodec().encode(frame)
    assert wire[:4] == bytes([0x80, 0x03, 0x00, 0x01])
    assert wire[4] == spdy.FLAG_UNIDIRECTIONAL
    stream_id, associated, priority, slot = struct.unpack_from(">IIBB", wire, 8)
    assert (stream_id, associated, priority >> 5, slot) == (1, 0, 2, 0)
    # the header block inflates with the SPDY/3 dictionary to the uncompressed name/value block
    inflater = zlib.decompressobj(zdict=DICTIONARY)
    block = inflater.decompress(wire[18:])
    assert block == spdy.encode_header_block((("streamtype", "error"), ("port", "80")))
    assert FrameCodec().feed(wire) == [frame]


def test_header_block_layout_and_multiple_values():
    block = spdy.encode_header_block((("Port", "80"),))
    assert block == struct.pack(">I", 1) + struct.pack(">I", 4) + b"port" + struct.pack(">I", 2) + b"80"
    nul_joined = struct.pack(">I", 1) + struct.pack(">I", 1) + b"a" + struct.pack(">I", 3) + b"x\0y"
    assert spdy.decode_header_block(nul_joined) == (("a", "x"), ("a", "y"))


def test_malformed_header_block():
    with pytest.raises(ProtocolError):
        spdy.decode_header_block(struct.pack(">I", 2) + struct.pack(">I", 1) + b"a")


def test_header_compression_is_one_stream_per_direction():
    sender, receiver = FrameCodec(), FrameCodec()
    frames = [SynStream(1, (("streamtype", "stdout"),)), SynStream(3, (("streamtype", "stderr"),)),
              SynReply(1, ()), HeadersFrame(3, (("x", "y"),), fin=True)]
    wire = b"".join(sender.encode(f) for f in frames)
    # one zlib stream for all blocks: the second one is smaller for the words the first one had
    assert receiver.feed(wire) == frames
    sizes = [len(sender.encode(SynStream(i, (("streamtype", "stdout"),)))) for i in (5, 7)]
    assert sizes[1] <= sizes[0]


def test_feed_byte_by_byte():
    codec, reader = FrameCodec(), FrameCodec()
    frames = [SynStream(1, (("streamtype", "stdin"),)), Data(1, b"x" * 300), Ping(2), Data(1, b"", fin=True)]
    wire = b"".join(codec.encode(f) for f in frames)
    got = []
    for i in range(len(wire)):
        got += reader.feed(wire[i:i + 1])
    assert got == frames


def test_wrong_version_is_a_protocol_error():
    wire = bytearray(FrameCodec().encode(Ping(1)))
    wire[1] = 2
    with pytest.raises(ProtocolError):
        FrameCodec().feed(bytes(wire))


def test_unknown_control_frame_is_ignored():
    unknown = bytes([0x80, 0x03, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00])
    assert FrameCodec().feed(unknown + FrameCodec().encode(Ping(1))) == [Ping(1)]


# --- the connection ------------------------------------------------------------------------------


def pair():
    return Connection(client=True), Connection(client=False)


def test_streams_open_reply_and_finish():
    client, server = pair()
    sid = client.open_stream((("streamtype", "stdout"),))
    assert sid == 1 and client.open_stream((("streamtype", "stderr"),)) == 3
    events = server.receive_data(client.data_to_send())
    assert [type(e) for e in events] == [SynStream, SynStream]
    server.reply(1)
    server.send_data(1, b"out", fin=True)
    events = client.receive_data(server.data_to_send())
    assert events == [SynReply(1, ()), Data(1, b"out", fin=True)]
    assert client.streams[1].remote_closed
    client.send_data(1, b"", fin=True)
    assert 1 not in client.streams  # both sides closed: gone


def test_duplicate_syn_stream_is_a_protocol_error():
    client, server = pair()
    wire = FrameCodec().encode(SynStream(1, ()))
    server.receive_data(wire)
    with pytest.raises(ProtocolError):
        server.receive_data(FrameCodec().encode(SynStream(3, ()))[:0] + wire[:8] + wire[8:])


def test_peer_ping_is_echoed_own_ping_is_not():
    client, server = pair()
    client.ping(1)
    server.receive_data(client.data_to_send())
    assert client.receive_data(server.data_to_send()) == [Ping(1)]
    assert client.data_to_send() == b""  # an answer to its own ping is not echoed back


def test_receiver_gives_window_back():
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    client.send_data(sid, b"x" * (spdy.DEFAULT_WINDOW // 2 + 1))
    server.receive_data(client.data_to_send())
    updates = [e for e in client.receive_data(server.data_to_send()) if isinstance(e, WindowUpdate)]
    # given back once half a window was used (two 16 KiB frames), for the stream and the session
    assert sorted((u.stream_id, u.delta) for u in updates) == [(0, spdy.DEFAULT_WINDOW // 2),
                                                               (sid, spdy.DEFAULT_WINDOW // 2)]


def test_sender_without_peer_flow_control_is_not_limited():
    # Go's spdystream never sends WINDOW_UPDATE: sending must not stall after 64 KiB
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    assert server.send_data(sid, b"y" * (3 * spdy.DEFAULT_WINDOW)) == 3 * spdy.DEFAULT_WINDOW
    frames = FrameCodec().feed(server.data_to_send())
    assert all(len(f.data) <= spdy.MAX_DATA_FRAME for f in frames)
    assert sum(len(f.data) for f in frames) == 3 * spdy.DEFAULT_WINDOW


def test_sender_keeps_the_window_of_a_peer_that_does_flow_control():
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    server.receive_data(FrameCodec().encode(WindowUpdate(sid, 0)))  # the peer shows it does flow control
    sent = server.send_data(sid, b"z" * (spdy.DEFAULT_WINDOW + 10), fin=True)
    assert sent == spdy.DEFAULT_WINDOW and server.send_window(sid) == 0
    assert not server.streams[sid].local_closed  # FIN waits for the rest
    server.receive_data(FrameCodec().encode(WindowUpdate(sid, 100)))
    server.receive_data(FrameCodec().encode(WindowUpdate(0, 100)))
    assert server.send_data(sid, b"z" * 10, fin=True) == 10
    assert server.streams[sid].local_closed


def test_a_spdy3_peer_without_session_updates_is_held_by_its_stream_window_only():
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    for _ in range(3):  # three windows' worth, each given back on the stream only
        assert server.send_data(sid, b"w" * spdy.DEFAULT_WINDOW) == spdy.DEFAULT_WINDOW
        server.receive_data(FrameCodec().encode(WindowUpdate(sid, spdy.DEFAULT_WINDOW)))
    assert not server.peer_session_flow_control


def test_settings_initial_window_moves_open_streams():
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    server.receive_data(FrameCodec().encode(Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1000),))))
    server.receive_data(FrameCodec().encode(WindowUpdate(0, 0)))
    assert server.send_window(sid) == 1000


def test_reset_forgets_the_stream():
    client, server = pair()
    sid = client.open_stream(())
    server.receive_data(client.data_to_send())
    server.reset(sid)
    assert client.receive_data(server.data_to_send()) == [RstStream(sid, spdy.RstStatus.CANCEL)]
    assert sid not in client.streams and client.send_data(sid, b"late") == 0
