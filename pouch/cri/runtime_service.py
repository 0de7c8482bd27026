"""``runtime.v1.RuntimeService``: a thin servicer; each concern is a module of its own.

The runtime's identity, status and configuration are here; pod sandboxes in ``cri/pods.py``,
a pod's containers in ``cri/pod_containers.py``, their stats in ``cri/pod_stats.py``. ExecSync,
exec, attach and port forwarding in ``cri/exec_rpcs.py`` (the streaming server: ``cri/streaming/``).
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
from pouch.cri.pod_containers import PodContainers
from pouch.cri.pod_stats import CriStats
from pouch.cri.pods import Pods
from pouch.cri.stream_lists import StreamingLists
from pouch.engine import Engine
from pouch.errors import PouchError
from pouch.network.sandbox import load_cni_conf_dir

RUNTIME_NAME = "pouch"
RUNTIME_API_VERSION = "v1"
KUBELET_API_VERSION = "0.1.0"  # what VersionResponse.version carries, as containerd and CRI-O answer


class RuntimeService(ExecRpcs, StreamingLists, pb_grpc.RuntimeServiceServicer):
    # mixins: ExecRpcs (ExecSync, Exec, Attach, PortForward), StreamingLists (Stream* lists, cri/stream_lists.py)
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pod_cidr = ""  # from UpdateRuntimeConfig; kept in memory, as containerd does
        self.pods = Pods(engine)
        self.containers = PodContainers(engine, self.pods)
        self.stats = CriStats(engine, self.pods, self.containers)

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


    # --------------------------------------------------------------- pod sandboxes (cri/pods.py)
    @rpc
    def RunPodSandbox(self, request: pb.RunPodSandboxRequest, context: grpc.ServicerContext) -> pb.RunPodSandboxResponse:
        return pb.RunPodSandboxResponse(pod_sandbox_id=self.pods.run(request))

    @rpc
    def StopPodSandbox(self, request: pb.StopPodSandboxRequest,
                       context: grpc.ServicerContext) -> pb.StopPodSandboxResponse:
        self.pods.stop(request.pod_sandbox_id)
        return pb.StopPodSandboxResponse()

    @rpc
    def RemovePodSandbox(self, request: pb.RemovePodSandboxRequest,
                         context: grpc.ServicerContext) -> pb.RemovePodSandboxResponse:
        self.pods.remove(request.pod_sandbox_id)
        return pb.RemovePodSandboxResponse()

    @rpc
    def PodSandboxStatus(self, request: pb.PodSandboxStatusRequest,
                         context: grpc.ServicerContext) -> pb.PodSandboxStatusResponse:
        return self.pods.status(request.pod_sandbox_id, request.verbose)

    @rpc
    def ListPodSandbox(self, request: pb.ListPodSandboxRequest,
                       context: grpc.ServicerContext) -> pb.ListPodSandboxResponse:
        return pb.ListPodSandboxResponse(items=self.pods.list(request.filter))

    # ----------------------------------------------------------- containers (cri/pod_containers.py)
    @rpc
    def CreateContainer(self, request: pb.CreateContainerRequest,
                        context: grpc.ServicerContext) -> pb.CreateContainerResponse:
        return pb.CreateContainerResponse(container_id=self.containers.create(request))

    @rpc
    def StartContainer(self, request: pb.StartContainerRequest,
                       context: grpc.ServicerContext) -> pb.StartContainerResponse:
        self.containers.start(request.container_id)
        return pb.StartContainerResponse()

    @rpc
    def StopContainer(self, request: pb.StopContainerRequest, context: grpc.ServicerContext) -> pb.StopContainerResponse:
        self.containers.stop(request.container_id, request.timeout)
        return pb.StopContainerResponse()

    @rpc
    def RemoveContainer(self, request: pb.RemoveContainerRequest,
                        context: grpc.ServicerContext) -> pb.RemoveContainerResponse:
        self.containers.remove(request.container_id)
        return pb.RemoveContainerResponse()

    @rpc
    def ContainerStatus(self, request: pb.ContainerStatusRequest,
                        context: grpc.ServicerContext) -> pb.ContainerStatusResponse:
        return self.containers.status(request.container_id, request.verbose)

    @rpc
    def ListContainers(self, request: pb.ListContainersRequest,
                       context: grpc.ServicerContext) -> pb.ListContainersResponse:
        return pb.ListContainersResponse(containers=self.containers.list(request.filter))

    @rpc
    def UpdateContainerResources(self, request: pb.UpdateContainerResourcesRequest,
                                 context: grpc.ServicerContext) -> pb.UpdateContainerResourcesResponse:
        self.containers.update_resources(request.container_id, request.linux)
        return pb.UpdateContainerResourcesResponse()

    # ------------------------------------------------------------------------ stats (cri/pod_stats.py)
    @rpc
    def ContainerStats(self, request: pb.ContainerStatsRequest,
                       context: grpc.ServicerContext) -> pb.ContainerStatsResponse:
        return pb.ContainerStatsResponse(stats=self.stats.container(request.container_id))

    @rpc
    def ListContainerStats(self, request: pb.ListContainerStatsRequest,
                           context: grpc.ServicerContext) -> pb.ListContainerStatsResponse:
        return pb.ListContainerStatsResponse(stats=self.stats.list_containers(request.filter))

    @rpc
    def PodSandboxStats(self, request: pb.PodSandboxStatsRequest,
                        context: grpc.ServicerContext) -> pb.PodSandboxStatsResponse:
        return pb.PodSandboxStatsResponse(stats=self.stats.pod(request.pod_sandbox_id))

    @rpc
    def ListPodSandboxStats(self, request: pb.ListPodSandboxStatsRequest,
                            context: grpc.ServicerContext) -> pb.ListPodSandboxStatsResponse:
        return pb.ListPodSandboxStatsResponse(stats=self.stats.list_pods(request.filter))

    @rpc
    def ReopenContainerLog(self, request: pb.ReopenContainerLogRequest,
                           context: grpc.ServicerContext) -> pb.ReopenContainerLogResponse:
        self.containers.reopen_log(request.container_id)
        return pb.ReopenContainerLogResponse()


answer_unimplemented(RuntimeService, "RuntimeService")
