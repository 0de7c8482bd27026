"""A pod's containers: CreateContainer, StartContainer, StopContainer, RemoveContainer,
ContainerStatus, ListContainers, ReopenContainerLog.

Each is an ordinary Pouch container (``cri/container_options.py``) in its pod's namespaces.

**Logs.** conmon writes every container's log in the CRI format already (``<RFC3339Nano>
stdout|stderr P|F <text>``, its k8s-file driver). A pod's container has it written straight
to the CRI's file, the pod's ``log_directory`` + the container's ``log_path``
(``CreateOptions.log_path``), where ``pouch logs`` reads it too; pouchd does not rotate it,
the kubelet does: it renames the file and calls ReopenContainerLog, and conmon opens a new
one at the path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri import lookup
from pouch.cri.container_options import container_options, resource_changes
from pouch.cri.labels import CriObject
from pouch.cri.pod_messages import (
    container_filter_matches,
    container_message,
    container_status,
    container_verbose_info,
    pod_state,
)
from pouch.cri.pods import Pods, stop_container
from pouch.engine import Engine
from pouch.errors import Conflict, NotFound, PouchError
from pouch.models import Container, Status
from pouch.services.resources import update as update_resources

log = logging.getLogger("pouchd.cri")

REOPEN_WAIT = 5.0  # seconds conmon gets to open a new log file


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
        """The pod container with this id (or a unique prefix of it); NotFound otherwise."""
        return lookup.find(self.engine, container_id, crilabels.CONTAINER_TYPE, "container")

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
        if log_path:
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
        return self.engine.containers.create(opts).id

    def start(self, container_id: str) -> None:
        c, _obj = self.get(container_id)
        self.engine.containers.start(c.id)

    def stop(self, container_id: str, timeout: int) -> None:
        """The stop signal, SIGKILL after ``timeout`` seconds; at once with none (containerd's
        rule). Idempotent: a stopped container, or one not there (removed, or never made), is no
        error (the CRI's rule, critest's idempotence scenarios)."""
        try:
            c, _obj = self.get(container_id)
        except NotFound:
            return
        with contextlib.suppress(NotFound):  # removed meanwhile
            stop_container(self.engine, c.id, timeout)

    def remove(self, container_id: str) -> None:
        """Killed first if it runs; an unknown container is no error. Its CRI log stays (the
        kubelet's to delete, as with containerd)."""
        try:
            c, _obj = self.get(container_id)
        except NotFound:
            return
        with contextlib.suppress(NotFound):
            self.engine.containers.remove(c.id, force=True, owner=crilabels.OWNER)

    def status(self, container_id: str, verbose: bool = False) -> pb.ContainerStatusResponse:
        c, obj = self.get(container_id)
        info = container_verbose_info(c, obj) if verbose else {}
        return pb.ContainerStatusResponse(status=container_status(c, obj), info=info)

    def list(self, f: pb.ContainerFilter) -> list[pb.Container]:
        return [container_message(c, obj) for c, obj in self.pods.cri_objects(crilabels.CONTAINER_TYPE)
                if container_filter_matches(f, c, obj)]

    def update_resources(self, container_id: str, linux: pb.LinuxContainerResources) -> None:
        c, _obj = self.get(container_id)
        changes = resource_changes(linux)
        if changes:
            update_resources(self.engine.containers, c.id, changes)

    def reopen_log(self, container_id: str) -> None:
        """conmon opens the CRI log file anew, after the kubelet renamed it (its rotation): a
        running container only, as containerd."""
        c, _obj = self.get(container_id)
        if c.state.status != Status.RUNNING:
            raise Conflict(f"container {c.id} is not running")
        path = self.engine.containers.log_path(c)
        self.engine.runtime.reopen_log(c.id)  # a message on conmon's control pipe: it acts on its own time
        deadline = time.monotonic() + REOPEN_WAIT
        while not os.path.exists(path):  # the call answers once the new file is there (kubelet, critest check)
            if time.monotonic() > deadline:
                raise PouchError(f"container {c.id}: conmon did not reopen its log {path}")
            time.sleep(0.005)
