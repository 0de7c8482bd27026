"""pouch.cri.pod_messages: Pouch containers as CRI pod and container messages, and the list filters."""

from __future__ import annotations

import dataclasses
import json

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.labels import Metadata, PodFacts
from pouch.cri.pod_messages import (
    container_filter_matches,
    container_state,
    container_status,
    container_verbose_info,
    nanoseconds,
    pod_filter_matches,
    pod_sandbox_status,
    pod_verbose_info,
)
from pouch.models import BindMount, Container, ContainerState, CreateOptions, NetworkAttachment, Status

POD_ID = "p" * 64


def pod(status: Status = Status.RUNNING) -> tuple[Container, crilabels.CriObject]:
    labels = crilabels.pod_labels(Metadata("web", 1, "u", "ns"), {"app": "web"}, {"a": "b"},
                                  PodFacts(host_pid=True, runtime_handler="runc"))
    c = Container(id=POD_ID, name="k8s_POD", image_id="sha256:i", image_ref="i", created="2026-12-08T04:00:00.5Z",
                  options=CreateOptions(image="i", labels=labels), state=ContainerState(status=status),
                  network=NetworkAttachment(network="pods", netns_path="/run/x", ip_address="10.1.0.5"))
    obj = crilabels.read(labels)
    assert obj is not None
    return c, obj


def app(state: ContainerState) -> tuple[Container, crilabels.CriObject]:
    labels = crilabels.container_labels(Metadata("app", 2), {"tier": "f"}, {}, POD_ID, "/logs/app.log")
    c = Container(id="c" * 64, name="k8s_app", image_id="sha256:i", image_ref="busybox", created="2026-12-08T04:00:00Z",
                  options=CreateOptions(image="busybox", labels=labels, binds=(BindMount("/h", "/c", True, "rslave"),)),
                  state=state)
    obj = crilabels.read(labels)
    assert obj is not None
    return c, obj


def test_nanoseconds():
    assert nanoseconds("0001-01-01T00:00:00Z") == 0
    assert nanoseconds("2026-12-08T04:00:00.5Z") == 1796702400_500000000


def test_pod_status_ready_and_not_ready():
    c, obj = pod()
    status = pod_sandbox_status(c, obj)
    assert status.state == pb.SANDBOX_READY and status.network.ip == "10.1.0.5"
    assert status.metadata == pb.PodSandboxMetadata(name="web", uid="u", namespace="ns", attempt=1)
    assert dict(status.labels) == {"app": "web"} and dict(status.annotations) == {"a": "b"}
    assert status.linux.namespaces.options.pid == pb.NODE
    assert status.runtime_handler == "runc"
    stopped, obj = pod(Status.EXITED)
    assert pod_sandbox_status(stopped, obj).state == pb.SANDBOX_NOTREADY
    assert pod_sandbox_status(stopped, obj).network.ip == ""


def test_pod_filter():
    c, obj = pod()
    assert pod_filter_matches(pb.PodSandboxFilter(), c, obj)
    assert pod_filter_matches(pb.PodSandboxFilter(id=POD_ID[:8]), c, obj)
    assert not pod_filter_matches(pb.PodSandboxFilter(id="x"), c, obj)
    not_ready = pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)
    assert not pod_filter_matches(pb.PodSandboxFilter(state=not_ready), c, obj)
    assert pod_filter_matches(pb.PodSandboxFilter(label_selector={"app": "web"}), c, obj)


def test_container_states():
    assert container_state(app(ContainerState())[0]) == pb.CONTAINER_CREATED
    assert container_state(app(ContainerState(status=Status.RUNNING))[0]) == pb.CONTAINER_RUNNING
    assert container_state(app(ContainerState(status=Status.EXITED))[0]) == pb.CONTAINER_EXITED
    restarted_never = ContainerState(status=Status.CREATED, started_at="2026-12-08T04:00:01Z")
    assert container_state(app(restarted_never)[0]) == pb.CONTAINER_EXITED


def test_container_status_of_an_exited_container():
    state = ContainerState(status=Status.EXITED, exit_code=0, started_at="2026-12-08T04:00:01Z",
                           finished_at="2026-12-08T04:00:02Z")
    status = container_status(*app(state))
    assert status.state == pb.CONTAINER_EXITED and status.reason == "Completed" and status.exit_code == 0
    assert status.started_at < status.finished_at
    assert status.log_path == "/logs/app.log"
    assert status.metadata == pb.ContainerMetadata(name="app", attempt=2)
    assert list(status.mounts) == [pb.Mount(container_path="/c", host_path="/h", readonly=True,
                                            propagation=pb.PROPAGATION_HOST_TO_CONTAINER)]
    failed = container_status(*app(dataclasses.replace(state, exit_code=3)))
    assert (failed.reason, failed.exit_code) == ("Error", 3)
    oom = container_status(*app(dataclasses.replace(state, exit_code=137, oom_killed=True)))
    assert oom.reason == "OOMKilled"
    running = container_status(*app(ContainerState(status=Status.RUNNING, started_at="2026-12-08T04:00:01Z")))
    assert running.reason == "" and running.finished_at == 0


def test_container_filter():
    c, obj = app(ContainerState(status=Status.RUNNING))
    assert container_filter_matches(pb.ContainerFilter(pod_sandbox_id=POD_ID), c, obj)
    assert not container_filter_matches(pb.ContainerFilter(pod_sandbox_id="q"), c, obj)
    running = pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)
    assert container_filter_matches(pb.ContainerFilter(state=running, label_selector={"tier": "f"}), c, obj)
    created = pb.ContainerStateValue(state=pb.CONTAINER_CREATED)
    assert not container_filter_matches(pb.ContainerFilter(state=created), c, obj)


def test_verbose_info():
    c, obj = pod()
    c.state.pid = 42
    info = json.loads(pod_verbose_info(c, obj)["info"])
    assert info["pid"] == 42 and info["netNamespacePath"] == "/run/x" and info["runtimeHandler"] == "runc"
    running, member = app(ContainerState(status=Status.RUNNING, pid=7))
    info = json.loads(container_verbose_info(running, member)["info"])
    assert info == {"sandboxID": POD_ID, "pid": 7, "runtimeType": "", "removing": False, "logPath": "/logs/app.log"}
