"""kubelet's streaming protocols as data, and the single-use streaming tokens."""

from __future__ import annotations

import json
import threading

from pouch.cri.streaming import protocol
from pouch.cri.streaming.protocol import Channel, TermSize
from pouch.cri.streaming.remotecommand import MAX_STDIN_BUFFER, Inbox
from pouch.cri.streaming.requests import ExecStream, PortForwardStream, RequestCache, parse_path, url_path


def test_choose_follows_the_clients_order():
    offered = protocol.split_offers(["v4.channel.k8s.io, v3.channel.k8s.io", "channel.k8s.io"])
    assert offered == ["v4.channel.k8s.io", "v3.channel.k8s.io", "channel.k8s.io"]
    assert protocol.choose(offered, protocol.SPDY_REMOTE_COMMAND) == protocol.V4
    assert protocol.choose(["v3.channel.k8s.io", "v4.channel.k8s.io"], protocol.SPDY_REMOTE_COMMAND) == protocol.V3
    assert protocol.choose(["v5.channel.k8s.io"], protocol.SPDY_REMOTE_COMMAND) is None
    assert protocol.choose(["v5.channel.k8s.io"], protocol.WEBSOCKET_REMOTE_COMMAND) == protocol.V5


def test_expected_streams_as_kubelet_waits_for_them():
    assert protocol.expected_channels(False, True, True, False, protocol.V4) == {
        Channel.ERROR, Channel.STDOUT, Channel.STDERR}
    # a terminal: one output stream, and resize from v3 on
    assert protocol.expected_channels(True, True, True, True, protocol.V4) == {
        Channel.ERROR, Channel.STDIN, Channel.STDOUT, Channel.RESIZE}
    assert Channel.RESIZE not in protocol.expected_channels(True, True, False, True, protocol.V2)


def test_v4_status_carries_the_exit_code():
    status = json.loads(protocol.exit_status(3, ("sh", "-c", "exit 3"), protocol.V4))
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert protocol.parse_status(protocol.exit_status(3, ("x",), protocol.V4), protocol.V4)[0] == 3
    assert json.loads(protocol.exit_status(0, ("true",), protocol.V4)) == {"metadata": {}, "status": "Success"}
    assert protocol.parse_status(protocol.success_status(protocol.V5), protocol.V5) == (0, "")


def test_before_v4_the_error_channel_is_text():
    assert protocol.exit_status(0, ("true",), protocol.V2) == b""
    text = protocol.exit_status(2, ("false",), protocol.V3)
    assert b"exit code 2" in text and not text.startswith(b"{")
    assert protocol.parse_status(protocol.error_status("no such container", protocol.V1), protocol.V1) == (
        -1, "no such container")


def test_error_status_is_an_internal_failure():
    status = json.loads(protocol.error_status("boom", protocol.V4))
    assert status["status"] == "Failure" and status["message"] == "boom" and status["code"] == 500
    assert protocol.parse_status(json.dumps(status).encode(), protocol.V4) == (-1, "boom")


def test_resize_messages_as_gos_json_encoder_writes_them():
    stream = protocol.encode_resize(TermSize(80, 24)) + b"\n" + protocol.encode_resize(TermSize(100, 40))
    sizes, rest = protocol.parse_resizes(stream + b'\n{"Width":1')
    assert sizes == [TermSize(80, 24), TermSize(100, 40)]
    assert rest == b'{"Width":1'
    sizes, rest = protocol.parse_resizes(rest + b',"Height":2}')
    assert sizes == [TermSize(1, 2)] and rest == b""


def test_tokens_work_once():
    cache = RequestCache()
    request = ExecStream("c1", ("ls",), False, False, True, True)
    token = cache.insert(request)
    assert cache.consume(token) == request
    assert cache.consume(token) is None


def test_tokens_expire():
    now = [100.0]
    cache = RequestCache(ttl=60, clock=lambda: now[0])
    token = cache.insert(PortForwardStream("pod", (80,)))
    now[0] += 61
    assert cache.consume(token) is None


def test_tokens_are_random_and_limited():
    cache = RequestCache(capacity=2)
    tokens = {cache.insert(PortForwardStream("p", ())) for _ in range(2)}
    assert len(tokens) == 2
    try:
        cache.insert(PortForwardStream("p", ()))
    except Exception as err:  # noqa: BLE001
        assert "too many" in str(err)
    else:
        raise AssertionError("a third request fit a cache of two")


def test_paths():
    request = ExecStream("c", ("ls",), False, False, True, False)
    assert url_path(request, "tok") == "/exec/tok"
    assert parse_path("/exec/tok") == ("exec", "tok")
    assert parse_path("/portforward/abc?x=1") == ("portforward", "abc")
    assert parse_path("/nope/tok") is None and parse_path("/exec/") is None


def test_inbox_holds_a_bounded_amount_of_stdin():
    inbox = Inbox()
    chunk = b"x" * (MAX_STDIN_BUFFER // 2)
    inbox.stdin_data(chunk)
    inbox.stdin_data(chunk)  # now full
    third = threading.Thread(target=inbox.stdin_data, args=(b"more",))
    third.start()
    third.join(0.3)
    assert third.is_alive()  # the reader waits for room
    assert inbox.next_stdin() == chunk
    third.join(5)
    assert not third.is_alive()
    assert inbox.next_stdin() == chunk and inbox.next_stdin() == b"more"


def test_inbox_end_releases_a_waiting_reader():
    inbox = Inbox()
    inbox.stdin_data(b"x" * MAX_STDIN_BUFFER)
    blocked = threading.Thread(target=inbox.stdin_data, args=(b"dropped",))
    blocked.start()
    inbox.close()  # the session is over
    blocked.join(5)
    assert not blocked.is_alive()
    assert inbox.next_stdin() == b"x" * MAX_STDIN_BUFFER and inbox.next_stdin() is None
