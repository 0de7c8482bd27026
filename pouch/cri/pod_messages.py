"""Pouch containers as the CRI's pod and container messages, and the CRI's list filters (pure)."""

from __future__ import annotations

import json
from datetime import datetime

from pouch.cri import api_pb2 as pb
from pouch.cri.container_options import PROPAGATION
from pouch.cri.labels import CriObject, Metadata, matches
from pouch.models import Container, Status
from pouch.timestamps import epoch_of

_MOUNT_PROPAGATION = {v: k for k, v in PROPAGATION.items()}


def nanoseconds(rfc3339: str) -> int:
    """A record's timestamp in nanoseconds since the epoch; 0 for Docker's zero time."""
    if rfc3339.startswith("0001-01-01"):
        return 0
    seconds = epoch_of(rfc3339)
    if seconds is None:  # no fraction of a second
        try:
            seconds = datetime.fromisoformat(rfc3339).timestamp()
        except ValueError:
            return 0
    return int(round(seconds * 1_000_000)) * 1000


def pod_state(c: Container) -> pb.PodSandboxState:
    """READY while the infra container runs (its namespaces exist), NOTREADY otherwise."""
    return pb.SANDBOX_READY if c.state.status in (Status.RUNNING, Status.PAUSED) else pb.SANDBOX_NOTREADY


def container_state(c: Container) -> pb.ContainerState:
    status = c.state.status
    if status.is_active():
        return pb.CONTAINER_RUNNING
    if status == Status.CREATED:
        return pb.CONTAINER_EXITED if c.state.ever_started else pb.CONTAINER_CREATED
    if status in (Status.EXITED, Status.DEAD, Status.REMOVING):
        return pb.CONTAINER_EXITED
    return pb.CONTAINER_UNKNOWN


def pod_metadata_message(m: Metadata) -> pb.PodSandboxMetadata:
    return pb.PodSandboxMetadata(name=m.name, uid=m.uid, namespace=m.namespace, attempt=m.attempt)


def pod_sandbox(c: Container, obj: CriObject) -> pb.PodSandbox:
    return pb.PodSandbox(id=c.id, metadata=pod_metadata_message(obj.metadata), state=pod_state(c),
                         created_at=nanoseconds(c.created), labels=obj.labels, annotations=obj.annotations,
                         runtime_handler=obj.pod.runtime_handler)


def _namespace_options(obj: CriObject) -> pb.NamespaceOption:
    pod = obj.pod
    return pb.NamespaceOption(network=pb.NODE if pod.host_network else pb.POD,
                              pid=pb.NODE if pod.host_pid else (pb.POD if pod.shared_pid else pb.CONTAINER),
                              ipc=pb.NODE if pod.host_ipc else pb.POD)


def pod_sandbox_status(c: Container, obj: CriObject) -> pb.PodSandboxStatus:
    """The pod IP is eth0's while the pod is ready; none once stopped (its namespace is gone)."""
    ip = c.network.ip_address if c.network is not None and pod_state(c) == pb.SANDBOX_READY else ""
    return pb.PodSandboxStatus(
        id=c.id, metadata=pod_metadata_message(obj.metadata), state=pod_state(c), created_at=nanoseconds(c.created),
        network=pb.PodSandboxNetworkStatus(ip=ip),
        linux=pb.LinuxPodSandboxStatus(namespaces=pb.Namespace(options=_namespace_options(obj))),
        labels=obj.labels, annotations=obj.annotations, runtime_handler=obj.pod.runtime_handler)


def pod_filter_matches(f: pb.PodSandboxFilter, c: Container, obj: CriObject) -> bool:
    if f.id and not c.id.startswith(f.id):
        return False
    if f.HasField("state") and f.state.state != pod_state(c):
        return False
    return matches(f.label_selector, obj.labels)


def container_metadata_message(m: Metadata) -> pb.ContainerMetadata:
    return pb.ContainerMetadata(name=m.name, attempt=m.attempt)


def container_message(c: Container, obj: CriObject) -> pb.Container:
    return pb.Container(id=c.id, pod_sandbox_id=obj.sandbox_id, metadata=container_metadata_message(obj.metadata),
                        image=pb.ImageSpec(image=c.image_ref), image_ref=c.image_id, image_id=c.image_id,
                        state=container_state(c), created_at=nanoseconds(c.created), labels=obj.labels,
                        annotations=obj.annotations)


def container_filter_matches(f: pb.ContainerFilter, c: Container, obj: CriObject) -> bool:
    if f.id and not c.id.startswith(f.id):
        return False
    if f.pod_sandbox_id and not obj.sandbox_id.startswith(f.pod_sandbox_id):
        return False
    if f.HasField("state") and f.state.state != container_state(c):
        return False
    return matches(f.label_selector, obj.labels)


def exit_reason(c: Container) -> tuple[str, str]:
    """containerd's words: ``Completed`` (0), ``Error``, ``OOMKilled``; the start error as message."""
    if container_state(c) != pb.CONTAINER_EXITED:
        return "", ""
    if c.state.oom_killed:
        return "OOMKilled", c.state.error
    return ("Completed" if c.state.exit_code == 0 else "Error"), c.state.error


def container_status(c: Container, obj: CriObject) -> pb.ContainerStatus:
    reason, message = exit_reason(c)
    exited = container_state(c) == pb.CONTAINER_EXITED
    mounts = [pb.Mount(container_path=b.target, host_path=b.source, readonly=b.read_only,
                       propagation=_MOUNT_PROPAGATION.get(b.propagation, pb.PROPAGATION_PRIVATE))
              for b in c.options.binds]
    return pb.ContainerStatus(
        id=c.id, metadata=container_metadata_message(obj.metadata), state=container_state(c),
        created_at=nanoseconds(c.created), started_at=nanoseconds(c.state.started_at),
        finished_at=nanoseconds(c.state.finished_at) if exited else 0,
        exit_code=c.state.exit_code if exited else 0,
        image=pb.ImageSpec(image=c.image_ref), image_ref=c.image_id, image_id=c.image_id,
        reason=reason, message=message, labels=obj.labels, annotations=obj.annotations, mounts=mounts,
        log_path=obj.log_path)


def pod_verbose_info(c: Container, obj: CriObject) -> dict[str, str]:
    """PodSandboxStatus ``verbose``: containerd's ``info`` keys that mean something here, as JSON."""
    netns = c.network.netns_path if c.network is not None else ""
    info = {"pid": c.state.pid, "image": c.image_ref, "runtimeHandler": obj.pod.runtime_handler,
            "runtimeType": c.options.runtime, "netNamespacePath": netns, "hostname": obj.pod.hostname,
            "cgroupParent": obj.pod.cgroup_parent}
    return {"info": json.dumps(info)}


def container_verbose_info(c: Container, obj: CriObject) -> dict[str, str]:
    """ContainerStatus ``verbose``: containerd's ``info`` keys that mean something here, as JSON."""
    info = {"sandboxID": obj.sandbox_id, "pid": c.state.pid, "runtimeType": c.options.runtime,
            "removing": c.state.status == Status.REMOVING, "logPath": obj.log_path}
    return {"info": json.dumps(info)}
