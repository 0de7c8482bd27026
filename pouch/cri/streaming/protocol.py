"""kubelet's streaming protocols, as data (pure): names, channels, the status a session ends with.

Remote command (exec, attach) speaks ``v4.channel.k8s.io`` … ``channel.k8s.io`` over SPDY
(one stream per channel, named by its ``streamType`` header) or over WebSocket (one byte of
channel id before each message; ``v5.channel.k8s.io`` adds the close signal on channel 255).
Port forward speaks ``portforward.k8s.io`` over SPDY: a ``data`` and an ``error`` stream per
forwarded connection, paired by their ``requestID`` and carrying the ``port``.

From v4 on, the error channel ends a session with a ``metav1.Status`` as JSON (the exit code of
a failed command in its causes); before v4 it carries the error's text, and nothing on success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

V1 = "channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
BASE64_V1 = "base64.channel.k8s.io"  # WebSocket text messages: the channel as an ASCII digit, then base64
BASE64_V4 = "v4.base64.channel.k8s.io"
PORT_FORWARD = "portforward.k8s.io"

SPDY_REMOTE_COMMAND = (V4, V3, V2, V1)  # what this server speaks over SPDY, in its preference order
WEBSOCKET_REMOTE_COMMAND = (V5, V4, V3, V2, V1, BASE64_V4, BASE64_V1)
WEBSOCKET_PORT_FORWARD = (V4, BASE64_V4)  # kubelet's: port forward channels over WebSocket
STATUS_JSON_PROTOCOLS = (V4, V5)

STREAM_TYPE = "streamtype"
PORT = "port"
REQUEST_ID = "requestid"
CLOSE_SIGNAL = 255  # v5: [255, channel] says the client closed that channel


class Channel(IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    ERROR = 3
    RESIZE = 4


STREAM_TYPES = {"stdin": Channel.STDIN, "stdout": Channel.STDOUT, "stderr": Channel.STDERR,
                "error": Channel.ERROR, "resize": Channel.RESIZE}


@dataclass(frozen=True)
class TermSize:
    width: int
    height: int


def choose(offered: list[str], supported: tuple[str, ...]) -> str | None:
    """The first protocol the client offered that this server speaks (the client's order wins,
    as in kubelet's handshake); None when there is none in common."""
    return next((p for p in offered if p in supported), None)


def split_offers(values: list[str]) -> list[str]:
    """Protocol names from header values (repeated headers, or one comma-separated)."""
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def is_base64(name: str) -> bool:
    return ".base64." in f".{name}"


def version_of(name: str) -> str:
    """The channel protocol a (base64) WebSocket subprotocol speaks: ``v4.base64.channel.k8s.io`` → v4."""
    return name.replace("base64.", "")


def expected_channels(stdin: bool, stdout: bool, stderr: bool, tty: bool, protocol: str) -> frozenset[Channel]:
    """The streams a SPDY client opens for a session, as kubelet waits for them: always error;
    stderr only without a terminal (a terminal has one output); resize with a terminal from v3."""
    channels = {Channel.ERROR}
    if stdin:
        channels.add(Channel.STDIN)
    if stdout:
        channels.add(Channel.STDOUT)
    if stderr and not tty:
        channels.add(Channel.STDERR)
    if tty and protocol in (V3, V4, V5):
        channels.add(Channel.RESIZE)
    return frozenset(channels)


def success_status(protocol: str) -> bytes:
    if protocol in STATUS_JSON_PROTOCOLS:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return b""


def exit_status(code: int, cmd: tuple[str, ...], protocol: str) -> bytes:
    """How a finished command is reported: success, or its non-zero exit code."""
    if code == 0:
        return success_status(protocol)
    message = f"command terminated with non-zero exit code: error executing command {list(cmd)}, exit code {code}"
    if protocol not in STATUS_JSON_PROTOCOLS:
        return message.encode()
    return json.dumps({"metadata": {}, "status": "Failure", "message": message, "reason": "NonZeroExitCode",
                       "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}).encode()


def error_status(message: str, protocol: str) -> bytes:
    """A session that could not run (no such container, the process did not start...)."""
    if protocol not in STATUS_JSON_PROTOCOLS:
        return message.encode()
    return json.dumps({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                       "details": {"causes": [{"message": message}]}, "code": 500}).encode()


def parse_status(data: bytes, protocol: str) -> tuple[int, str]:
    """A client's reading of the error channel: (exit code, message); 0 and "" for success,
    -1 for an error that is not an exit code."""
    if protocol not in STATUS_JSON_PROTOCOLS:
        text = data.decode(errors="replace")
        return (0, "") if not text else (-1, text)
    status = json.loads(data)
    if status.get("status") == "Success":
        return 0, ""
    if status.get("reason") == "NonZeroExitCode":
        for cause in status.get("details", {}).get("causes", []):
            if cause.get("reason") == "ExitCode":
                return int(cause["message"]), status.get("message", "")
    return -1, status.get("message", "")


def parse_resizes(buffer: bytes) -> tuple[list[TermSize], bytes]:
    """Terminal sizes from the resize stream (JSON objects one after another, as Go's
    json.Encoder writes them), and the bytes of an object not complete yet."""
    decoder = json.JSONDecoder()
    text = buffer.decode(errors="replace")
    sizes: list[TermSize] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return sizes, b""
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return sizes, text[pos:].encode()
        if isinstance(obj, dict):
            sizes.append(TermSize(int(obj.get("Width", 0)), int(obj.get("Height", 0))))


def encode_resize(size: TermSize) -> bytes:
    return json.dumps({"Width": size.width, "Height": size.height}).encode()
