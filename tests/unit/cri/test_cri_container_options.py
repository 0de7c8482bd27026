"""pouch.cri.container_options: a CRI ContainerConfig and its pod's facts as Pouch create options."""

from __future__ import annotations

import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.container_options import container_options
from pouch.cri.labels import Metadata, PodFacts
from pouch.errors import InvalidArgument
from pouch.models import BindMount, DeviceMapping, SeccompMode

POD_ID = "a" * 64
POD = Metadata(name="web", uid="u-1", namespace="default", attempt=1)
FACTS = PodFacts(hostname="web-0", log_directory="/var/log/pods/x", dns_servers=("10.0.0.10",),
                 dns_searches=("svc.local",), dns_options=("ndots:5",), cgroup_parent="/kubepods/pod1",
                 runtime_handler="runc")


def options(facts: PodFacts = FACTS, min_oom: int = -1000, **fields):
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="app", attempt=3),
                                image=pb.ImageSpec(image="busybox:latest"), **fields)
    return container_options(config, pod_id=POD_ID, pod=POD, facts=facts, log_path="/logs/app/0.log",
                             min_oom_score_adj=min_oom)


def test_command_args_env_workdir():
    opts = options(command=["/bin/sh", "-c"], args=["echo hi"], working_dir="/srv",
                   envs=[pb.KeyValue(key="A", value="1"), pb.KeyValue(key="B", value="x=y")])
    assert opts.entrypoint == ("/bin/sh", "-c") and opts.cmd == ("echo hi",)
    assert opts.env == ("A=1", "B=x=y") and opts.working_dir == "/srv"
    assert opts.image == "busybox:latest"
    assert opts.name == "k8s_app_web_default_u-1_3"


def test_image_defaults_stay_unless_given():
    assert options().entrypoint is None and options().cmd is None
    only_args = options(args=["-v"])
    assert only_args.entrypoint is None and only_args.cmd == ("-v",)
    only_command = options(command=["/bin/true"])  # the image's CMD is not appended to a new entrypoint
    assert only_command.entrypoint == ("/bin/true",) and only_command.cmd == ()


def test_joins_the_pods_namespaces_and_files():
    opts = options()
    assert opts.network_mode == f"container:{POD_ID}"
    assert opts.isolation.ipc_mode == f"container:{POD_ID}"
    assert opts.isolation.uts_mode == f"container:{POD_ID}"
    assert opts.isolation.pid_mode == f"container:{POD_ID}"  # namespace_options.pid unset is POD (0)
    assert opts.hostname == "web-0"
    assert (opts.dns, opts.dns_search, opts.dns_options) == (("10.0.0.10",), ("svc.local",), ("ndots:5",))
    assert opts.resources.cgroup_parent == "/kubepods/pod1"
    assert opts.runtime == "runc"
    assert opts.restart_policy.name == "no"


def test_pid_namespace_modes():
    def pid(mode: int, target: str = "", facts: PodFacts = FACTS) -> str:
        ns = pb.NamespaceOption(pid=mode, target_id=target)
        sc = pb.LinuxContainerSecurityContext(namespace_options=ns)
        return options(facts=facts, linux=pb.LinuxContainerConfig(security_context=sc)).isolation.pid_mode

    assert pid(pb.CONTAINER) == ""
    assert pid(pb.NODE) == "host"
    assert pid(pb.TARGET, "b" * 64) == "container:" + "b" * 64
    assert pid(pb.CONTAINER, facts=PodFacts(host_pid=True)) == "host"
    with pytest.raises(InvalidArgument):
        pid(pb.TARGET)


def test_host_network_pod():
    opts = options(facts=PodFacts(host_network=True, host_ipc=True))
    assert opts.network_mode == "host"
    assert opts.isolation.uts_mode == "host" and opts.isolation.ipc_mode == "host"
    assert opts.hostname == ""


def test_mounts_with_propagation_and_readonly():
    mounts = [pb.Mount(container_path="/data", host_path="/srv/data", readonly=True,
                       propagation=pb.PROPAGATION_HOST_TO_CONTAINER, selinux_relabel=True),
              pb.Mount(container_path="/shared", host_path="/srv/shared", propagation=pb.PROPAGATION_BIDIRECTIONAL),
              pb.Mount(container_path="/plain", host_path="/srv/plain")]
    assert options(mounts=mounts).binds == (
        BindMount("/srv/data", "/data", True, "rslave", True),
        BindMount("/srv/shared", "/shared", False, "rshared", True),
        BindMount("/srv/plain", "/plain", False, "rprivate", True),
    )
    with pytest.raises(InvalidArgument):
        options(mounts=[pb.Mount(container_path="/x")])


def test_devices():
    devices = [pb.Device(host_path="/dev/null", container_path="/dev/mynull", permissions="rw"),
               pb.Device(host_path="/dev/zero")]
    assert options(devices=devices).resources.devices == (
        DeviceMapping("/dev/null", "/dev/mynull", "rw"), DeviceMapping("/dev/zero", "/dev/zero", "rwm"))


def test_linux_resources():
    res = pb.LinuxContainerResources(cpu_period=100000, cpu_quota=50000, cpu_shares=512,
                                     memory_limit_in_bytes=64 << 20, memory_swap_limit_in_bytes=128 << 20,
                                     cpuset_cpus="0", cpuset_mems="0", oom_score_adj=500)
    opts = options(linux=pb.LinuxContainerConfig(resources=res))
    r = opts.resources
    assert (r.cpu_period, r.cpu_quota, r.cpu_shares) == (100000, 50000, 512)
    assert (r.memory, r.memory_swap, r.cpuset_cpus, r.cpuset_mems) == (64 << 20, 128 << 20, "0", "0")
    assert opts.isolation.oom_score_adj == 500


def test_negative_oom_score_is_raised_to_what_the_daemon_may_give():
    res = pb.LinuxContainerResources(oom_score_adj=-997)
    assert options(min_oom=0, linux=pb.LinuxContainerConfig(resources=res)).isolation.oom_score_adj == 0
    assert options(min_oom=-1000, linux=pb.LinuxContainerConfig(resources=res)).isolation.oom_score_adj == -997


def test_hugepages_are_refused_by_name():
    res = pb.LinuxContainerResources(hugepage_limits=[pb.HugepageLimit(page_size="2MB", limit=1 << 21)])
    with pytest.raises(InvalidArgument, match="hugepage"):
        options(linux=pb.LinuxContainerConfig(resources=res))


def security(**fields):
    return options(linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(**fields)))


def test_users():
    assert security(run_as_user=pb.Int64Value(value=1000)).user == "1000"
    assert security(run_as_user=pb.Int64Value(value=0)).user == "0"  # root asked, not the image's user
    assert security(run_as_user=pb.Int64Value(value=1000), run_as_group=pb.Int64Value(value=50)).user == "1000:50"
    assert security(run_as_username="nobody").user == "nobody"
    assert security().user == ""
    with pytest.raises(InvalidArgument):
        security(run_as_group=pb.Int64Value(value=50))
    assert security(supplemental_groups=[10, 20]).isolation.group_add == ("10", "20")


def test_privileges_and_capabilities():
    opts = security(privileged=True, readonly_rootfs=True, no_new_privs=True,
                    capabilities=pb.Capability(add_capabilities=["NET_ADMIN"], drop_capabilities=["ALL"]))
    assert opts.privileged and opts.read_only and opts.security.no_new_privileges
    assert opts.cap_add == ("NET_ADMIN",) and opts.cap_drop == ("ALL",)


def test_seccomp_profiles():
    profile = pb.SecurityProfile
    assert security().security.seccomp == SeccompMode.DEFAULT
    assert security(seccomp=profile(profile_type=profile.RuntimeDefault)).security.seccomp == SeccompMode.DEFAULT
    assert security(seccomp=profile(profile_type=profile.Unconfined)).security.seccomp == SeccompMode.UNCONFINED
    local = security(seccomp=profile(profile_type=profile.Localhost, localhost_ref="/etc/seccomp/x.json")).security
    assert (local.seccomp, local.seccomp_profile) == (SeccompMode.PROFILE, "/etc/seccomp/x.json")
    with pytest.raises(InvalidArgument):
        security(seccomp=profile(profile_type=profile.Localhost, localhost_ref="x.json"))
    legacy = security(seccomp_profile_path="localhost//etc/seccomp/y.json").security
    assert (legacy.seccomp, legacy.seccomp_profile) == (SeccompMode.PROFILE, "/etc/seccomp/y.json")
    assert security(seccomp_profile_path="unconfined").security.seccomp == SeccompMode.UNCONFINED


def test_masked_and_readonly_paths():
    opts = security(masked_paths=["/proc/kcore"], readonly_paths=["/proc/sys"])
    assert opts.security.masked_paths == ("/proc/kcore",) and opts.security.readonly_paths == ("/proc/sys",)
    assert security().security.masked_paths is None  # Docker's (and kubelet's) default list


def test_labels_carry_the_cri_object():
    opts = options(labels={"app": "web"}, annotations={"a": "b"})
    obj = crilabels.read(opts.labels)
    assert obj is not None and obj.kind == crilabels.CONTAINER_TYPE
    assert obj.metadata == Metadata(name="app", attempt=3)
    assert obj.labels == {"app": "web"} and obj.annotations == {"a": "b"}
    assert obj.sandbox_id == POD_ID and obj.log_path == "/logs/app/0.log"
    assert opts.labels["io.pouch.owner"] == "cri"
    assert opts.log_path == "/logs/app/0.log"  # conmon writes the CRI log file itself


def test_metadata_and_image_are_required():
    with pytest.raises(InvalidArgument):
        container_options(pb.ContainerConfig(image=pb.ImageSpec(image="x")), pod_id=POD_ID, pod=POD, facts=FACTS,
                          log_path="")
    with pytest.raises(InvalidArgument):
        container_options(pb.ContainerConfig(metadata=pb.ContainerMetadata(name="x")), pod_id=POD_ID, pod=POD,
                          facts=FACTS, log_path="")


def test_a_gvisor_container_joins_only_the_pods_network():
    opts = options(facts=PodFacts(hostname="web-0", runtime_handler="runsc"))
    assert opts.network_mode == f"container:{POD_ID}"
    assert (opts.isolation.ipc_mode, opts.isolation.pid_mode, opts.isolation.uts_mode) == ("", "", "")
    assert opts.hostname == "web-0" and opts.runtime == "runsc"
