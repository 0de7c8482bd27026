"""The CRI gRPC server: both services on one unix socket, served from a thread pool."""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent import futures

import grpc

from pouch.cri import api_pb2_grpc as pb_grpc
from pouch.cri.exec_rpcs import build_stream_server
from pouch.cri.image_service import ImageService
from pouch.cri.runtime_service import RuntimeService
from pouch.engine import Engine

log = logging.getLogger("pouchd.cri")

WORKERS = 16  # a kubelet issues a handful of calls at once; long pulls take a worker each
SOCKET_MODE = 0o660  # as the Docker API's socket


class CriServer:
    def __init__(self, engine: Engine, listen: str) -> None:
        if not listen.startswith("unix://"):
            raise ValueError(f"--cri-listen: only unix:// sockets are supported: {listen}")
        self.path = listen.removeprefix("unix://")
        self.runtime = RuntimeService(engine)
        self.images = ImageService(engine)
        self.streaming = build_stream_server(engine)  # exec/attach/port-forward sessions (pouch/cri/streaming)
        self._server: grpc.Server | None = None

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or "/", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stale socket of a previous run
        self.streaming.start()
        self.runtime.stream_server = self.streaming
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cri"))
        pb_grpc.add_RuntimeServiceServicer_to_server(self.runtime, server)
        pb_grpc.add_ImageServiceServicer_to_server(self.images, server)
        server.add_insecure_port("unix://" + self.path)
        server.start()
        os.chmod(self.path, SOCKET_MODE)
        self._server = server
        log.info("CRI v1 listening on unix://%s", self.path)

    def stop(self, grace: float = 2.0) -> None:
        """Refuse new calls, give those under way ``grace`` seconds, remove the socket."""
        self.streaming.stop()
        if self._server is None:
            return
        self._server.stop(grace).wait()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
