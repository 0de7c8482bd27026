"""pouch.cri.rich_annotations: a pod's or container's annotations as rich-container options."""

from __future__ import annotations

import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri.container_options import container_options
from pouch.cri.labels import Metadata, PodFacts
from pouch.cri.rich_annotations import lxcfs_enabled, merged, rich_options
from pouch.errors import InvalidArgument
from pouch.models import RichMode, RichOptions


def test_no_annotation_is_a_plain_container():
    assert rich_options({}) is None
    assert rich_options({"other": "x"}) is None


def test_every_rich_option():
    options = rich_options({"io.pouch.rich-mode": "systemd", "io.pouch.rich.init-script": "/init.sh",
                            "io.pouch.rich.prestart-hooks": "echo a\n\n  echo b  \n",
                            "io.pouch.rich.poststop-hooks": "echo c", "io.pouch.rich.ops-dir": "/srv/ops"})
    assert options == RichOptions(RichMode.SYSTEMD, "/init.sh", ("echo a", "echo b"), ("echo c",), "/srv/ops")


def test_a_hook_without_a_mode_is_dumb_init():
    assert rich_options({"io.pouch.rich.prestart-hooks": "true"}).mode == RichMode.DUMB_INIT


def test_unknown_mode_and_lxcfs_values_are_refused():
    with pytest.raises(InvalidArgument, match="rich-mode"):
        rich_options({"io.pouch.rich-mode": "upstart"})
    with pytest.raises(InvalidArgument, match="lxcfs"):
        lxcfs_enabled({"io.pouch.lxcfs": "yes"})
    assert lxcfs_enabled({"io.pouch.lxcfs": "true"}) and not lxcfs_enabled({})


def test_the_containers_annotations_win_over_the_pods():
    assert merged({"io.pouch.rich-mode": "systemd", "a": "1"}, {"io.pouch.rich-mode": "sbin-init"}) == {
        "io.pouch.rich-mode": "sbin-init", "a": "1"}


def test_a_rich_container_gets_a_pid_namespace_of_its_own():
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="app"), image=pb.ImageSpec(image="i"),
                                annotations={"io.pouch.lxcfs": "true"})
    opts = container_options(config, pod_id="p" * 64, pod=Metadata("pod", 0, "u", "ns"), facts=PodFacts(),
                             log_path="", pod_annotations={"io.pouch.rich-mode": "systemd"})
    assert opts.rich is not None and opts.rich.mode == RichMode.SYSTEMD
    assert opts.enable_lxcfs
    assert opts.isolation.pid_mode == ""
    assert opts.network_mode == "container:" + "p" * 64
    plain = container_options(config, pod_id="p" * 64, pod=Metadata("pod", 0, "u", "ns"), facts=PodFacts(),
                              log_path="")
    assert plain.rich is None and plain.isolation.pid_mode == "container:" + "p" * 64
