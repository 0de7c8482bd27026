"""ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: the engine's stats
service (one sample each, no waiting) in CRI messages; the writable layer's usage measured on disk."""

from __future__ import annotations

import threading
import time

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.convert import filesystem_usage
from pouch.cri.fsusage import tree_usage
from pouch.cri.labels import CriObject, matches
from pouch.cri.pod_containers import PodContainers
from pouch.cri.pod_messages import pod_state
from pouch.cri.pods import Pods
from pouch.cri.stats_messages import CpuPoint, container_stats, pod_stats
from pouch.engine import Engine
from pouch.errors import NotFound
from pouch.models import Container
from pouch.services.stats import StatsSample, empty_sample


class CriStats:
    def __init__(self, engine: Engine, pods: Pods, containers: PodContainers) -> None:
        self.engine = engine
        self.pods = pods
        self.containers = containers
        self._cpu: dict[str, CpuPoint] = {}  # the previous sample's CPU time of each container
        self._lock = threading.Lock()

    def _sample(self, c: Container) -> StatsSample:
        try:
            return next(self.engine.stats.samples(c.id, stream=False, one_shot=True), empty_sample(c))
        except NotFound:
            return empty_sample(c)

    def _writable(self, c: Container, now_ns: int) -> pb.FilesystemUsage:
        upper = self.engine.images.rw_dirs(c.id).upper
        usage = tree_usage(upper)
        return filesystem_usage(upper, usage.used_bytes, usage.inodes_used, now_ns)

    def _container_stats(self, c: Container, obj: CriObject) -> tuple[pb.ContainerStats, StatsSample]:
        sample = self._sample(c)
        now_ns = time.time_ns()
        with self._lock:
            previous = self._cpu.get(c.id)
            self._cpu[c.id] = CpuPoint(now_ns, sample.cpu.usage.total)
        return container_stats(obj, c.id, sample, now_ns, previous, self._writable(c, now_ns)), sample

    # --------------------------------------------------------------------- RPCs
    def container(self, container_id: str) -> pb.ContainerStats:
        c, obj = self.containers.get(container_id)
        return self._container_stats(c, obj)[0]

    def list_containers(self, f: pb.ContainerStatsFilter) -> list[pb.ContainerStats]:
        out = []
        for c, obj in self.pods.cri_objects(crilabels.CONTAINER_TYPE):
            if f.id and not c.id.startswith(f.id):
                continue
            if f.pod_sandbox_id and not obj.sandbox_id.startswith(f.pod_sandbox_id):
                continue
            if c.state.status.is_active() and matches(f.label_selector, obj.labels):
                out.append(self._container_stats(c, obj)[0])
        if not f.id and not f.pod_sandbox_id and not f.label_selector:  # forget the containers gone
            live = {s.attributes.id for s in out}
            with self._lock:
                self._cpu = {k: v for k, v in self._cpu.items() if k in live}
        return out

    def pod(self, pod_id: str) -> pb.PodSandboxStats:
        c, obj = self.pods.get(pod_id)
        return self._pod_stats(c, obj)

    def _pod_stats(self, pod: Container, obj: CriObject) -> pb.PodSandboxStats:
        infra = self._sample(pod)
        members, processes = [], infra.pids.current if infra.pids else 0
        for c, member in self.pods.cri_objects(crilabels.CONTAINER_TYPE):
            if member.sandbox_id == pod.id and c.state.status.is_active():
                stats, sample = self._container_stats(c, member)
                members.append(stats)
                processes += sample.pids.current if sample.pids else 0
        return pod_stats(pod.id, obj, infra, members, processes, time.time_ns())

    def list_pods(self, f: pb.PodSandboxStatsFilter) -> list[pb.PodSandboxStats]:
        return [self._pod_stats(c, obj) for c, obj in self.pods.cri_objects(crilabels.SANDBOX_TYPE)
                if (not f.id or c.id.startswith(f.id)) and matches(f.label_selector, obj.labels)
                and pod_state(c) == pb.SANDBOX_READY]
