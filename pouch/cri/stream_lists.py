"""The streaming list RPCs (kubelet's CRIListStreaming): the List* answers sent in chunks.

``StreamPodSandboxes``, ``StreamContainers``, ``StreamContainerStats``, ``StreamPodSandboxStats``
and ``StreamImages`` answer what their List* twin does, as a server stream of responses of at most
:data:`CHUNK` items each, every item once; nothing matching is an empty stream. A node with many
pods so stays under gRPC's message size limit (4 MiB by default on the kubelet's side).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from pouch.cri import api_pb2 as pb
from pouch.cri.edge import stream_rpc
from pouch.cri.pod_containers import PodContainers
from pouch.cri.pod_stats import CriStats
from pouch.cri.pods import Pods

CHUNK = 100  # items per response: a pod's or a container's stats are the largest, a few KiB

Item = TypeVar("Item")


def chunks(items: Sequence[Item], size: int = CHUNK) -> Iterator[Sequence[Item]]:
    """``items`` in consecutive slices of at most ``size``, none empty."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def streamed(items: Sequence[Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
    return (make(chunk) for chunk in chunks(items))


class StreamingLists:
    """RuntimeService's streaming lists (a mixin: the servicer gives ``pods``, ``containers``, ``stats``)."""

    pods: Pods
    containers: PodContainers
    stats: CriStats

    @stream_rpc
    def StreamPodSandboxes(self, request: pb.StreamPodSandboxesRequest,
                           context: grpc.ServicerContext) -> Iterator[pb.StreamPodSandboxesResponse]:
        return streamed(self.pods.list(request.filter), lambda c: pb.StreamPodSandboxesResponse(pod_sandboxes=c))

    @stream_rpc
    def StreamContainers(self, request: pb.StreamContainersRequest,
                         context: grpc.ServicerContext) -> Iterator[pb.StreamContainersResponse]:
        return streamed(self.containers.list(request.filter), lambda c: pb.StreamContainersResponse(containers=c))

    @stream_rpc
    def StreamContainerStats(self, request: pb.StreamContainerStatsRequest,
                             context: grpc.ServicerContext) -> Iterator[pb.StreamContainerStatsResponse]:
        return streamed(self.stats.list_containers(request.filter),
                        lambda c: pb.StreamContainerStatsResponse(container_stats=c))

    @stream_rpc
    def StreamPodSandboxStats(self, request: pb.StreamPodSandboxStatsRequest,
                              context: grpc.ServicerContext) -> Iterator[pb.StreamPodSandboxStatsResponse]:
        return streamed(self.stats.list_pods(request.filter),
                        lambda c: pb.StreamPodSandboxStatsResponse(pod_sandbox_stats=c))
