"""A pouchd with ``--cri`` and a CNI config of the test's own, and a client for pods and containers.

The pods' network is Debian's ``bridge`` + ``portmap`` plugins on a bridge and a private subnet
no other daemon uses, host-local's state in the test's directory; the bridge goes with the daemon.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator

import grpc

from pouch.cri import api_pb2 as pb
from pouch.cri import api_pb2_grpc as pb_grpc
from tests.integration.conftest import Daemon, free_test_subnet, running_daemon
from tests.waiting import wait_until


class PodCri:
    """The daemon, its two CRI stubs, and helpers that undo what they made."""

    def __init__(self, daemon: Daemon, socket_path: str, base: str, subnet: str, bridge: str) -> None:
        self.daemon = daemon
        self.base = base
        self.subnet = subnet
        self.bridge = bridge
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)
        self.images = pb_grpc.ImageServiceStub(self.channel)

    # --------------------------------------------------------------------- pods
    def pod_config(self, name: str = "", **fields) -> pb.PodSandboxConfig:
        name = name or "pod-" + secrets.token_hex(4)
        log_dir = os.path.join(self.base, "logs", name)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=str(uuid.uuid4()), namespace="cri-test", attempt=0),
            hostname=name, log_directory=log_dir, **fields)
        return config

    def run_pod(self, config: pb.PodSandboxConfig | None = None, handler: str = "") -> str:
        config = config or self.pod_config()
        return self.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config, runtime_handler=handler),
                                          timeout=60).pod_sandbox_id

    def pod_status(self, pod_id: str) -> pb.PodSandboxStatus:
        return self.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id), timeout=10).status

    def list_pods(self, **filter_fields) -> list[pb.PodSandbox]:
        request = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(**filter_fields))
        return list(self.runtime.ListPodSandbox(request, timeout=10).items)

    def stop_pod(self, pod_id: str) -> None:
        self.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)

    def remove_pod(self, pod_id: str) -> None:
        self.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)

    @contextlib.contextmanager
    def pod(self, config: pb.PodSandboxConfig | None = None, handler: str = "") -> Iterator[tuple[str, pb.PodSandboxConfig]]:
        config = config or self.pod_config()
        pod_id = self.run_pod(config, handler)
        try:
            yield pod_id, config
        finally:
            self.stop_pod(pod_id)
            self.remove_pod(pod_id)

    # --------------------------------------------------------------- containers
    def container_config(self, name: str, *args: str, image: str = "busybox:latest", **fields) -> pb.ContainerConfig:
        return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image),
                                  command=list(args), log_path=f"{name}/0.log", **fields)

    def create(self, pod_id: str, pod_config: pb.PodSandboxConfig, config: pb.ContainerConfig) -> str:
        request = pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config)
        return self.runtime.CreateContainer(request, timeout=60).container_id

    def start(self, container_id: str) -> None:
        self.runtime.StartContainer(pb.StartContainerRequest(container_id=container_id), timeout=60)

    def run(self, pod_id: str, pod_config: pb.PodSandboxConfig, config: pb.ContainerConfig) -> str:
        container_id = self.create(pod_id, pod_config, config)
        self.start(container_id)
        return container_id

    def status(self, container_id: str) -> pb.ContainerStatus:
        return self.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=container_id), timeout=10).status

    def list_containers(self, **filter_fields) -> list[pb.Container]:
        request = pb.ListContainersRequest(filter=pb.ContainerFilter(**filter_fields))
        return list(self.runtime.ListContainers(request, timeout=10).containers)

    def stop(self, container_id: str, timeout: int = 0) -> None:
        self.runtime.StopContainer(pb.StopContainerRequest(container_id=container_id, timeout=timeout), timeout=60)

    def remove(self, container_id: str) -> None:
        self.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=container_id), timeout=60)

    def wait_exited(self, container_id: str) -> pb.ContainerStatus:
        wait_until(lambda: self.status(container_id).state == pb.CONTAINER_EXITED, timeout=30,
                   what=f"container {container_id[:12]} did not exit")
        return self.status(container_id)

    def log_of(self, pod_config: pb.PodSandboxConfig, config: pb.ContainerConfig) -> str:
        with open(os.path.join(pod_config.log_directory, config.log_path)) as f:
            return f.read()

    def output(self, pod_id: str, pod_config: pb.PodSandboxConfig, name: str, script: str, **fields) -> str:
        """Run ``sh -c SCRIPT`` in the pod until it exits; its stdout and stderr lines, from its CRI log."""
        config = self.container_config(name, "sh", "-c", script, **fields)
        container_id = self.run(pod_id, pod_config, config)
        self.wait_exited(container_id)
        return "\n".join(line.split(" ", 3)[3] for line in self.log_of(pod_config, config).splitlines())

    def remove_all_pods(self) -> None:
        for pod in self.list_pods():
            with contextlib.suppress(grpc.RpcError):
                self.stop_pod(pod.id)
                self.remove_pod(pod.id)


def write_conflist(conf_dir: str, name: str, bridge: str, subnet: str, ipam_dir: str) -> None:
    conflist = {
        "cniVersion": "1.0.0", "name": name,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "dataDir": ipam_dir, "ranges": [[{"subnet": subnet}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "10-pods.conflist"), "w") as f:
        json.dump(conflist, f)


@contextlib.contextmanager
def pod_cri(base: str, busybox_tar: str, *extra: str) -> Iterator[PodCri]:
    sock = os.path.join(base, "cri.sock")
    conf_dir = os.path.join(base, "net.d")
    bridge = f"cp{secrets.token_hex(5)}"
    subnet = free_test_subnet()
    write_conflist(conf_dir, f"pods-{secrets.token_hex(3)}", bridge, subnet, os.path.join(base, "ipam"))
    args = ("--cri", "--cri-listen", "unix://" + sock, "--cni-conf-dir", conf_dir, *extra)
    try:
        with running_daemon(base, busybox_tar, args) as d:
            client = PodCri(d, sock, base, subnet, bridge)
            try:
                yield client
            finally:
                if d.proc is None:  # a test killed it
                    d.start()
                client.remove_all_pods()
                client.channel.close()
    finally:
        subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)
