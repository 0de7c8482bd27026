"""pouch.cri.pod_options and pouch.cri.labels: a PodSandboxConfig as its infra container's create options."""

from __future__ import annotations

import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.labels import Metadata, PodFacts
from pouch.cri.pod_options import infra_options
from pouch.errors import InvalidArgument
from pouch.models import PortBinding, SeccompMode

CONFLIST = {"cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": "bridge"}]}


def config(**fields) -> pb.PodSandboxConfig:
    return pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="web", uid="u-1", namespace="ns", attempt=2),
                               hostname="web-0", log_directory="/var/log/pods/u-1", **fields)


def linux(**security) -> pb.LinuxPodSandboxConfig:
    return pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(**security))


def test_a_pod_on_the_cni_network():
    dns = pb.DNSConfig(servers=["10.0.0.10"], searches=["svc.local"], options=["ndots:5"])
    ports = [pb.PortMapping(protocol=pb.UDP, container_port=53, host_port=5353, host_ip="127.0.0.1"),
             pb.PortMapping(container_port=80)]  # no host port: not published
    opts = infra_options(config(dns_config=dns, port_mappings=ports,
                                linux=pb.LinuxPodSandboxConfig(cgroup_parent="/kubepods/p", sysctls={"a.b": "1"})),
                         image="sha256:abc", runtime_handler="runsc", conflist=CONFLIST)
    assert opts.name == "k8s_POD_web_ns_u-1_2"
    assert opts.image == "sha256:abc" and opts.runtime == "runsc"
    assert opts.cni_conflist == CONFLIST and opts.network_mode == "pod"
    assert opts.hostname == "web-0"
    assert (opts.dns, opts.dns_search, opts.dns_options) == (("10.0.0.10",), ("svc.local",), ("ndots:5",))
    assert opts.port_bindings == (PortBinding(53, "udp", "127.0.0.1", 5353),)
    assert opts.resources.cgroup_parent == "/kubepods/p"
    assert opts.isolation.sysctls == {"a.b": "1"}
    assert opts.isolation.ipc_mode == "shareable" and opts.isolation.pid_mode == "" and opts.isolation.uts_mode == ""
    assert opts.restart_policy.name == "no"


def test_host_namespaces():
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.NODE, ipc=pb.NODE)
    opts = infra_options(config(linux=linux(namespace_options=ns)), image="i", runtime_handler="", conflist=None)
    assert opts.network_mode == "host" and opts.cni_conflist is None and opts.hostname == ""
    assert (opts.isolation.ipc_mode, opts.isolation.pid_mode, opts.isolation.uts_mode) == ("host", "host", "host")


def test_no_cni_config_is_refused_unless_host_network():
    with pytest.raises(InvalidArgument, match="CNI"):
        infra_options(config(), image="i", runtime_handler="", conflist=None)


def test_metadata_is_required():
    with pytest.raises(InvalidArgument):
        infra_options(pb.PodSandboxConfig(), image="i", runtime_handler="", conflist=CONFLIST)


def test_security_context():
    opts = infra_options(config(linux=linux(privileged=True, readonly_rootfs=True,
                                            run_as_user=pb.Int64Value(value=65535),
                                            run_as_group=pb.Int64Value(value=65535),
                                            seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined))),
                         image="i", runtime_handler="", conflist=CONFLIST)
    assert opts.privileged and opts.read_only and opts.user == "65535:65535"
    assert opts.security.seccomp == SeccompMode.UNCONFINED


def test_labels_round_trip_with_the_pod_facts():
    ns = pb.NamespaceOption(pid=pb.POD)
    opts = infra_options(config(labels={"app": "web", "io.kubernetes.docker.type": "spoofed"},
                                annotations={"note": "x"}, linux=linux(namespace_options=ns)),
                         image="i", runtime_handler="runc", conflist=CONFLIST)
    obj = crilabels.read(opts.labels)
    assert obj is not None and obj.kind == crilabels.SANDBOX_TYPE
    assert obj.metadata == Metadata(name="web", attempt=2, uid="u-1", namespace="ns")
    assert obj.labels == {"app": "web"}  # a label of the CRI's own is not taken from the user
    assert obj.annotations == {"note": "x"}
    assert obj.pod == PodFacts(hostname="web-0", log_directory="/var/log/pods/u-1", shared_pid=True,
                               runtime_handler="runc")


def test_labels_of_other_containers_are_no_cri_object():
    assert crilabels.read({}) is None
    assert crilabels.read({"io.kubernetes.docker.type": "podsandbox"}) is None
    assert crilabels.read({"io.kubernetes.docker.type": "podsandbox", "io.pouch.cri.metadata": "{bad"}) is None


def test_label_selector():
    assert crilabels.matches({}, {"a": "1"})
    assert crilabels.matches({"a": "1"}, {"a": "1", "b": "2"})
    assert not crilabels.matches({"a": "1", "c": "3"}, {"a": "1"})
