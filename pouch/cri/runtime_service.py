"""``runtime.v1.RuntimeService``: this slice serves the runtime's identity, status and configuration.

Pods, containers, exec and stats answer UNIMPLEMENTED until their slices land (issue 10).
"""

from __future__ import annotations

import threading

import grpc

from pouch import __version__
from pouch.cri import api_pb2 as pb
from pouch.cri import api_pb2_grpc as pb_grpc
from pouch.cri.convert import NETWORK_READY, RUNTIME_READY, condition
from pouch.cri.edge import answer_unimplemented, rpc
from pouch.cri.exec_rpcs import ExecRpcs
from pouch.engine import Engine
from pouch.errors import PouchError
from pouch.network.sandbox import load_cni_conf_dir

RUNTIME_NAME = "pouch"
RUNTIME_API_VERSION = "v1"
KUBELET_API_VERSION = "0.1.0"  # what VersionResponse.version carries, as containerd and CRI-O answer


class RuntimeService(ExecRpcs, pb_grpc.RuntimeServiceServicer):  # ExecRpcs: ExecSync, Exec, Attach, PortForward
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pod_cidr = ""  # from UpdateRuntimeConfig; kept in memory, as containerd does

    @property
    def pod_cidr(self) -> str:
        with self._lock:
            return self._pod_cidr

    @rpc
    def Version(self, request: pb.VersionRequest, context: grpc.ServicerContext) -> pb.VersionResponse:
        return pb.VersionResponse(version=KUBELET_API_VERSION, runtime_name=RUNTIME_NAME,
                                  runtime_version=__version__, runtime_api_version=RUNTIME_API_VERSION)

    @rpc
    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusResponse:
        conditions = [condition(RUNTIME_READY, True), self._network_condition()]
        return pb.StatusResponse(status=pb.RuntimeStatus(conditions=conditions))

    def _network_condition(self) -> pb.RuntimeCondition:
        """Ready when ``--cni-conf-dir`` holds a CNI config pods can be networked with."""
        directory = self.engine.config.cni_conf_dir
        try:
            conf = load_cni_conf_dir(directory)
        except (PouchError, OSError, ValueError) as err:
            return condition(NETWORK_READY, False, "NetworkPluginNotReady", f"CNI config in {directory}: {err}")
        if conf is None:
            return condition(NETWORK_READY, False, "NetworkPluginNotReady", f"no CNI config found in {directory}")
        return condition(NETWORK_READY, True)

    @rpc
    def RuntimeConfig(self, request: pb.RuntimeConfigRequest, context: grpc.ServicerContext) -> pb.RuntimeConfigResponse:
        return pb.RuntimeConfigResponse(linux=pb.LinuxRuntimeConfiguration(cgroup_driver=pb.CGROUPFS))

    @rpc
    def UpdateRuntimeConfig(self, request: pb.UpdateRuntimeConfigRequest,
                            context: grpc.ServicerContext) -> pb.UpdateRuntimeConfigResponse:
        cidr = request.runtime_config.network_config.pod_cidr
        if cidr:
            with self._lock:
                self._pod_cidr = cidr
        return pb.UpdateRuntimeConfigResponse()


answer_unimplemented(RuntimeService, "RuntimeService")
