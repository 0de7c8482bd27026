"""A pod's containers: CreateContainer, StartContainer, StopContainer, RemoveContainer,
ContainerStatus, ListContainers, ReopenContainerLog.

Each is an ordinary Pouch container (``cri/container_options.py``) in its pod's namespaces.

**Logs.** conmon writes every container's log in the CRI format already (``<RFC3339Nano>
stdout|stderr P|F <text>``, its k8s-file driver) to ``<root>/containers/<id>/ctr.log``, where
``pouch logs`` and pouchd's rotation find it. The CRI's file, the pod's ``log_directory`` +
the container's ``log_path``, is a symbolic link to it (dockershim's way), so kubelet, crictl
and critest read the same bytes; ReopenContainerLog makes the link again after a kubelet
moved it away.
"""

from __future__ import annotations

import contextlib
import logging
import os

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.container_options import container_options, resource_changes
from pouch.cri.labels import CriObject
from pouch.cri.pod_messages import container_filter_matches, container_message, container_status, pod_state
from pouch.cri.pods import Pods, stop_container
from pouch.engine import Engine
from pouch.errors import Conflict, NotFound
from pouch.models import Container, Status
from pouch.services.resources import update as update_resources

log = logging.getLogger("pouchd.cri")


def daemon_oom_score_adj() -> int:
    """The lowest OOM score adjustment this daemon may give without CAP_SYS_RESOURCE: its own."""
    try:
        with open("/proc/self/oom_score_adj") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


class PodContainers:
    def __init__(self, engine: Engine, pods: Pods) -> None:
        self.engine = engine
        self.pods = pods

    def get(self, container_id: str) -> tuple[Container, CriObject]:
        if not container_id:
            raise NotFound("container id is empty")
        try:
            c = self.engine.containers.get(container_id)
        except NotFound:
            raise NotFound(f"container {container_id} not found") from None
        obj = crilabels.read(c.options.labels)
        if obj is None or obj.kind != crilabels.CONTAINER_TYPE or not c.id.startswith(container_id):
            raise NotFound(f"container {container_id} not found")
        return c, obj

    # --------------------------------------------------------------------- RPCs
    def create(self, request: pb.CreateContainerRequest) -> str:
        pod, pod_obj = self.pods.get(request.pod_sandbox_id)
        if pod_state(pod) != pb.SANDBOX_READY:
            raise Conflict(f"pod sandbox {pod.id} is not ready (its infra container is {pod.state.status})")
        config = request.config
        facts = pod_obj.pod
        log_path = os.path.join(facts.log_directory, config.log_path) if facts.log_directory and config.log_path else ""
        opts = container_options(config, pod_id=pod.id, pod=pod_obj.metadata, facts=facts, log_path=log_path,
                                 min_oom_score_adj=daemon_oom_score_adj(), pod_annotations=pod_obj.annotations)
        c = self.engine.containers.create(opts)
        if log_path:
            self._link_log(c.id, log_path)
        return c.id

    def _link_log(self, container_id: str, log_path: str) -> None:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log_path)
        os.symlink(self.engine.containers.log_path_of(container_id), log_path)

    def start(self, container_id: str) -> None:
        c, _obj = self.get(container_id)
        self.engine.containers.start(c.id)

    def stop(self, container_id: str, timeout: int) -> None:
        """The stop signal, SIGKILL after ``timeout`` seconds; at once with none (containerd's
        rule). Idempotent: a stopped container is no error."""
        c, _obj = self.get(container_id)
        stop_container(self.engine, c.id, timeout)

    def remove(self, container_id: str) -> None:
        """Killed first if it runs; an unknown container is no error. Its CRI log link goes too."""
        try:
            c, obj = self.get(container_id)
        except NotFound:
            return
        with contextlib.suppress(NotFound):
            self.engine.containers.remove(c.id, force=True, owner=crilabels.OWNER)
        if obj.log_path and os.path.islink(obj.log_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(obj.log_path)

    def status(self, container_id: str) -> pb.ContainerStatus:
        c, obj = self.get(container_id)
        return container_status(c, obj)

    def list(self, f: pb.ContainerFilter) -> list[pb.Container]:
        return [container_message(c, obj) for c, obj in self.pods.cri_objects(crilabels.CONTAINER_TYPE)
                if container_filter_matches(f, c, obj)]

    def update_resources(self, container_id: str, linux: pb.LinuxContainerResources) -> None:
        c, _obj = self.get(container_id)
        changes = resource_changes(linux)
        if changes:
            update_resources(self.engine.containers, c.id, changes)

    def reopen_log(self, container_id: str) -> None:
        """The CRI log file again, after the kubelet renamed it (its rotation): a running container only."""
        c, obj = self.get(container_id)
        if c.state.status != Status.RUNNING:
            raise Conflict(f"container {c.id} is not running")
        if obj.log_path and not os.path.lexists(obj.log_path):
            self._link_log(c.id, obj.log_path)
