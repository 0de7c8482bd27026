"""ExecSync, Exec, Attach and PortForward of ``runtime.v1.RuntimeService``.

ExecSync runs a command to its end and answers its output and exit code; past its timeout
the process is killed and the call ends DEADLINE_EXCEEDED (which kubelet reads as a probe
timeout). Exec, Attach and PortForward only check the request and answer a single-use URL
on the streaming server (``streaming/``), where the session runs once the client opens it.

A CRI container is a Pouch container and a pod sandbox id is its infra container's id, so
exec and attach go to ``engine.execs``/``services.streams`` as on the Docker API, and port
forward dials the infra container's network namespace.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import grpc

from pouch.cri import api_pb2 as pb
from pouch.cri.edge import rpc
from pouch.cri.streaming.portforward import Dialer, netns_dialer
from pouch.cri.streaming.remotecommand import RemoteCommandIO
from pouch.cri.streaming.requests import AttachStream, ExecStream, PortForwardStream, StreamRequest, TooManyRequests
from pouch.cri.streaming.server import StreamServer
from pouch.cri.streaming.sessions import run_attach, run_exec
from pouch.engine import Engine
from pouch.errors import Conflict, InvalidArgument
from pouch.models import Status
from pouch.services.execs import ExecConfig
from pouch.stdio import StdioConnection, StreamKind

MAX_EXEC_SYNC_OUTPUT = 16 * 1024 * 1024  # bytes kept of each stream, as kubelet's limit
KILL_GRACE = 10.0  # seconds for the output of a killed ExecSync to end (a child may still hold it)


def build_stream_server(engine: Engine) -> StreamServer:
    config = engine.config

    def run_session(request: StreamRequest, io: RemoteCommandIO) -> None:
        if isinstance(request, ExecStream):
            run_exec(engine, request, io)
        elif isinstance(request, AttachStream):
            run_attach(engine, request, io)

    def pod_dialer(sandbox_id: str) -> Dialer:
        return netns_dialer(_running(engine, sandbox_id).netns)

    return StreamServer(config.cri_stream_address, config.cri_stream_port, run_session, pod_dialer)


@dataclass(frozen=True)
class _Running:
    id: str
    netns: str


def _running(engine: Engine, ref: str) -> _Running:
    c = engine.containers.get(ref)
    if c.state.status != Status.RUNNING or c.state.pid <= 0:
        raise Conflict(f"container {c.id} is not running (status {c.state.status})")
    return _Running(c.id, f"/proc/{c.state.pid}/ns/net")


@dataclass
class _Output:
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)

    def add(self, kind: StreamKind, data: bytes) -> None:
        buffer = self.stderr if kind == StreamKind.STDERR else self.stdout
        buffer += data[:max(0, MAX_EXEC_SYNC_OUTPUT - len(buffer))]


def _collect(conn: StdioConnection, out: _Output) -> None:
    try:
        while (chunk := conn.recv()) is not None:
            out.add(chunk.kind, chunk.data)
    except OSError:
        pass


def _check_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
    if not (stdin or stdout or stderr):
        raise InvalidArgument("one of stdin, stdout, or stderr must be set")
    if tty and stderr:
        raise InvalidArgument("tty and stderr cannot both be true")


class ExecRpcs:
    """The servicer methods, mixed into ``RuntimeService`` (which has ``engine``)."""

    engine: Engine
    stream_server: StreamServer | None = None

    def _url(self, request: StreamRequest) -> str:
        if self.stream_server is None:
            raise Conflict("the CRI streaming server is not running")
        try:
            return self.stream_server.url_for(request)
        except TooManyRequests as err:
            raise Conflict(str(err)) from None

    @rpc
    def ExecSync(self, request: pb.ExecSyncRequest, context: grpc.ServicerContext) -> pb.ExecSyncResponse:
        execs = self.engine.execs
        cmd = tuple(request.cmd)
        exec_id = execs.create(request.container_id, ExecConfig(cmd=cmd, attach_stdin=False))
        attached = execs.start_attached(exec_id)
        out = _Output()
        reader = threading.Thread(target=_collect, args=(attached.connection, out), name="cri-exec-sync", daemon=True)
        reader.start()
        reader.join(request.timeout if request.timeout > 0 else None)
        timed_out = reader.is_alive()
        if timed_out:
            execs.kill(exec_id)
            reader.join(KILL_GRACE)
        attached.connection.close()
        attached.finish()
        if timed_out:  # the status, not abort(): the @rpc wrapper would turn abort's exception into INTERNAL
            context.set_code(grpc.StatusCode.DEADLINE_EXCEEDED)
            context.set_details(f"command {list(cmd)} timed out after {request.timeout}s and was killed")
            return pb.ExecSyncResponse()
        code = execs.inspect(exec_id).exit_code
        return pb.ExecSyncResponse(stdout=bytes(out.stdout), stderr=bytes(out.stderr),
                                   exit_code=-1 if code is None else code)

    @rpc
    def Exec(self, request: pb.ExecRequest, context: grpc.ServicerContext) -> pb.ExecResponse:
        if not request.cmd:
            raise InvalidArgument("cmd must not be empty")
        _check_streams(request.stdin, request.stdout, request.stderr, request.tty)
        running = _running(self.engine, request.container_id)
        return pb.ExecResponse(url=self._url(ExecStream(running.id, tuple(request.cmd), request.tty, request.stdin,
                                                        request.stdout, request.stderr)))

    @rpc
    def Attach(self, request: pb.AttachRequest, context: grpc.ServicerContext) -> pb.AttachResponse:
        _check_streams(request.stdin, request.stdout, request.stderr, request.tty)
        running = _running(self.engine, request.container_id)
        # the request's flags say which streams the client opens; the output is framed by the
        # container's own terminal setting (services.streams.attach_options), as kubelet's attach
        return pb.AttachResponse(url=self._url(AttachStream(running.id, request.tty, request.stdin, request.stdout,
                                                            request.stderr)))

    @rpc
    def PortForward(self, request: pb.PortForwardRequest, context: grpc.ServicerContext) -> pb.PortForwardResponse:
        for port in request.port:
            if not 0 < port < 65536:
                raise InvalidArgument(f"invalid port {port}")
        running = _running(self.engine, request.pod_sandbox_id)
        return pb.PortForwardResponse(url=self._url(PortForwardStream(running.id, tuple(request.port))))
