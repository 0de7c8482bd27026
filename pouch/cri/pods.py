"""Pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.

A pod sandbox is its infra container (``cri/pod_options.py``): the engine's container service
creates, starts, stops and removes it like any container, so a pod survives a ``kill -9`` of
pouchd (conmon holds it) and everything about it is read back from the container's record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri import lookup
from pouch.cri.infra_image import InfraImage
from pouch.cri.labels import CriObject
from pouch.cri.pod_messages import (
    container_status,
    pod_filter_matches,
    pod_sandbox,
    pod_sandbox_status,
    pod_verbose_info,
)
from pouch.cri.pod_options import infra_options
from pouch.engine import Engine
from pouch.errors import Conflict, NotFound, NotModified, PouchError
from pouch.models import Container
from pouch.network.sandbox import load_cni_conf_dir

log = logging.getLogger("pouchd.cri")

KILL_WAIT = 30  # seconds a killed container's exit may take to be recorded
STOP_TIMEOUT = 10  # seconds the infra process gets after SIGTERM (catatonit exits on it at once)


def stop_container(engine: Engine, container_id: str, timeout: int) -> None:
    """Stop a CRI container: ``timeout`` <= 0 kills it at once; a stopped one is no error."""
    containers = engine.containers
    if timeout > 0:
        with contextlib.suppress(NotModified):
            containers.stop(container_id, timeout)
        return
    with contextlib.suppress(Conflict):  # not running
        containers.kill(container_id, "KILL")
    if not containers.wait_for(lambda: containers.is_stopped(container_id), KILL_WAIT):
        raise PouchError(f"container {container_id} did not stop after SIGKILL")


class Pods:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.infra_image = InfraImage(engine, engine.config.pod_infra_image)

    # ------------------------------------------------------------------ lookups
    def cri_objects(self, kind: str) -> list[tuple[Container, CriObject]]:
        """Every container the CRI made of ``kind`` (a pod's infra, or a pod's container)."""
        out = []
        for c in self.engine.containers.list():
            obj = crilabels.read(c.options.labels)
            if obj is not None and obj.kind == kind:
                out.append((c, obj))
        return out

    def get(self, pod_id: str) -> tuple[Container, CriObject]:
        """The pod with this id (or a unique prefix of it); NotFound otherwise."""
        return lookup.find(self.engine, pod_id, crilabels.SANDBOX_TYPE, "pod sandbox")

    def containers_of(self, pod_id: str) -> list[Container]:
        return [c for c, obj in self.cri_objects(crilabels.CONTAINER_TYPE) if obj.sandbox_id == pod_id]

    # --------------------------------------------------------------------- RPCs
    def run(self, request: pb.RunPodSandboxRequest) -> str:
        config = request.config
        host_network = config.linux.security_context.namespace_options.network == pb.NODE
        conflist = None if host_network else load_cni_conf_dir(self.engine.config.cni_conf_dir)
        opts = infra_options(config, image=self.infra_image.ensure(), runtime_handler=request.runtime_handler,
                             conflist=conflist)
        if config.log_directory:
            os.makedirs(config.log_directory, mode=0o755, exist_ok=True)
        containers = self.engine.containers
        c = containers.create(opts)
        try:
            containers.start(c.id)
        except BaseException:
            with contextlib.suppress(PouchError):
                containers.remove(c.id, force=True, owner=crilabels.OWNER)
            raise
        log.info("pod %s (%s/%s) is ready", c.id[:12], config.metadata.namespace, config.metadata.name)
        return c.id

    def stop(self, pod_id: str) -> None:
        """Every container of the pod, then the infra container (its network torn down with it);
        idempotent: a stopped pod, or one already removed, is no error."""
        try:
            c, _obj = self.get(pod_id)
        except NotFound:
            return
        for member in self.containers_of(c.id):
            self._stop(member.id, 0)
        self._stop(c.id, STOP_TIMEOUT)

    def _stop(self, container_id: str, timeout: int) -> None:
        with contextlib.suppress(NotFound):
            stop_container(self.engine, container_id, timeout)

    def remove(self, pod_id: str) -> None:
        """The pod's containers (killed first if they run) and the pod; an unknown pod is no error."""
        try:
            c, _obj = self.get(pod_id)
        except NotFound:
            return
        containers = self.engine.containers
        for member in self.containers_of(c.id):
            with contextlib.suppress(NotFound):
                containers.remove(member.id, force=True, owner=crilabels.OWNER)
        with contextlib.suppress(NotFound):
            containers.remove(c.id, force=True, owner=crilabels.OWNER)
        log.info("pod %s removed", c.id[:12])

    def status(self, pod_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        """The pod's status with its containers' (the kubelet's evented PLEG reads both in one call)."""
        timestamp = time.time_ns()
        c, obj = self.get(pod_id)
        info = pod_verbose_info(c, obj) if verbose else {}
        members = [container_status(m, m_obj) for m, m_obj in self.cri_objects(crilabels.CONTAINER_TYPE)
                   if m_obj.sandbox_id == c.id]
        return pb.PodSandboxStatusResponse(status=pod_sandbox_status(c, obj), info=info,
                                           containers_statuses=members, timestamp=timestamp)

    def list(self, f: pb.PodSandboxFilter) -> list[pb.PodSandbox]:
        return [pod_sandbox(c, obj) for c, obj in self.cri_objects(crilabels.SANDBOX_TYPE)
                if pod_filter_matches(f, c, obj)]
