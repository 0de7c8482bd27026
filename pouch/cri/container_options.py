"""A CRI ``ContainerConfig`` and its pod's facts as a Pouch container's create options (pure).

A pod's container is an ordinary Pouch container that joins the infra container's namespaces:
network (``container:<pod id>``, so its sandbox's interfaces and ports), IPC and UTS always,
PID with ``namespace_options.pid == POD`` (``NODE``: the host's; ``CONTAINER``: its own);
host network / IPC / PID pods share the host's instead. The pod's hostname and DNS config are
copied into each container's options, so its ``/etc/hostname`` and ``/etc/resolv.conf`` say
what the pod's do (kubelet mounts its own ``/etc/hosts``).

The CRI's words in Pouch's (containerd's ``WithProcessArgs`` and friends): ``command`` is the
entrypoint and ``args`` the command (each replacing the image's when given); ``run_as_user``
/ ``run_as_group`` / ``run_as_username`` the user; ``supplemental_groups`` ``--group-add``;
capabilities add/drop with ``ALL``; ``seccomp`` RuntimeDefault → Pouch's default profile,
Unconfined, Localhost → the profile file; SELinux options and relabelling are ignored (no
SELinux here). ``masked_paths`` / ``readonly_paths`` as given; an empty list (proto3 cannot tell
it from none) gets Docker's list, which is kubelet's default one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pouch.cri import api_pb2 as pb
from pouch.cri.labels import Metadata, PodFacts, app_container_name, container_labels
from pouch.cri.rich_annotations import lxcfs_enabled, merged, rich_options
from pouch.errors import InvalidArgument
from pouch.models import (
    BindMount,
    CreateOptions,
    DeviceMapping,
    Isolation,
    Resources,
    RestartPolicy,
    SeccompMode,
    SecurityOptions,
)

#: RuntimeClass handlers whose containers are sandboxes of their own (gVisor): they join the pod's
#: network namespace but cannot join another sandbox's IPC, UTS or PID namespace, so they get
#: their own (with the pod's hostname).
SANDBOXED_RUNTIMES = frozenset({"runsc"})

PROPAGATION = {
    pb.PROPAGATION_PRIVATE: "rprivate",
    pb.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    pb.PROPAGATION_BIDIRECTIONAL: "rshared",
}


def container_metadata(config: pb.ContainerConfig) -> Metadata:
    if not config.metadata.name:
        raise InvalidArgument("CreateContainer: metadata.name is required")
    return Metadata(name=config.metadata.name, attempt=config.metadata.attempt)


def container_options(config: pb.ContainerConfig, *, pod_id: str, pod: Metadata, facts: PodFacts,
                      log_path: str, min_oom_score_adj: int = -1000,
                      pod_annotations: Mapping[str, str] | None = None) -> CreateOptions:
    """``log_path``: the container's CRI log file (absolute, "" for none), kept in its labels.
    ``min_oom_score_adj``: the lowest OOM score the daemon may give (its own, without
    CAP_SYS_RESOURCE: the kernel refuses a lower one, so a kubelet's -997 for a Guaranteed
    pod is raised to it, as containerd does when it lacks the capability). ``pod_annotations``: the
    pod's, which with the container's choose a rich mode (``cri/rich_annotations.py``)."""
    metadata = container_metadata(config)
    if not config.image.image:
        raise InvalidArgument("CreateContainer: image is required")
    security = config.linux.security_context
    annotations = merged(pod_annotations or {}, dict(config.annotations))
    rich = rich_options(annotations)
    isolation = isolation_of(config.linux, pod_id, facts, min_oom_score_adj)
    if rich is not None and isolation.pid_mode != "host":  # its init must be PID 1
        isolation = dataclasses.replace(isolation, pid_mode="")
    if facts.runtime_handler in SANDBOXED_RUNTIMES:
        isolation = dataclasses.replace(isolation, ipc_mode=_own_unless_host(isolation.ipc_mode),
                                        pid_mode=_own_unless_host(isolation.pid_mode),
                                        uts_mode=_own_unless_host(isolation.uts_mode))
    labels = container_labels(metadata, dict(config.labels), dict(config.annotations), pod_id, log_path)
    return CreateOptions(
        image=config.image.image,
        name=app_container_name(metadata, pod),
        entrypoint=tuple(config.command) or None,
        cmd=tuple(config.args) or (() if config.command else None),
        env=tuple(f"{kv.key}={kv.value}" for kv in config.envs),
        working_dir=config.working_dir,
        user=user_of(security),
        labels=labels,
        hostname="" if facts.host_network else facts.hostname,
        tty=config.tty, open_stdin=config.stdin, stdin_once=config.stdin_once,
        binds=tuple(bind_of(m) for m in config.mounts),
        read_only=security.readonly_rootfs,
        privileged=security.privileged,
        cap_add=tuple(security.capabilities.add_capabilities),
        cap_drop=tuple(security.capabilities.drop_capabilities),
        security=security_options(security),
        network_mode="host" if facts.host_network else f"container:{pod_id}",
        runtime=facts.runtime_handler,
        dns=facts.dns_servers, dns_search=facts.dns_searches, dns_options=facts.dns_options,
        resources=resources_of(config.linux.resources, facts.cgroup_parent, config.devices),
        isolation=isolation,
        rich=rich,
        enable_lxcfs=lxcfs_enabled(annotations),
        restart_policy=RestartPolicy("no"),  # the kubelet restarts a pod's containers
        log_path=log_path,
    )


def _own_unless_host(mode: str) -> str:
    return mode if mode == "host" else ""


def user_of(security: pb.LinuxContainerSecurityContext) -> str:
    """``uid[:gid]`` or ``name[:gid]``; "" for the image's user."""
    if security.HasField("run_as_user"):
        user = str(security.run_as_user.value)
    else:
        user = security.run_as_username
    if security.HasField("run_as_group"):
        if not user:
            raise InvalidArgument("CreateContainer: run_as_group needs run_as_user or run_as_username")
        user += f":{security.run_as_group.value}"
    return user


def bind_of(mount: pb.Mount) -> BindMount:
    if mount.HasField("image") and mount.image.image:
        raise InvalidArgument(f"CreateContainer: image volumes are not supported ({mount.container_path})")
    if not mount.host_path or not mount.container_path:
        raise InvalidArgument("CreateContainer: a mount needs host_path and container_path")
    return BindMount(source=mount.host_path, target=mount.container_path, read_only=mount.readonly,
                     propagation=PROPAGATION.get(mount.propagation, "rprivate"),
                     create_source=True)  # kubelet makes its directories; a missing one is made, as Docker's -v


def security_options(security: pb.LinuxContainerSecurityContext) -> SecurityOptions:
    profile = security.seccomp
    kind = profile.profile_type
    path = profile.localhost_ref
    if not security.HasField("seccomp") and security.seccomp_profile_path:  # the deprecated field
        legacy = security.seccomp_profile_path
        if legacy == "unconfined":
            kind = pb.SecurityProfile.Unconfined
        elif legacy.startswith("localhost/"):
            kind, path = pb.SecurityProfile.Localhost, legacy.removeprefix("localhost/")
    if kind == pb.SecurityProfile.Localhost:
        if not path.startswith("/"):
            raise InvalidArgument(f"CreateContainer: seccomp localhost profile must be an absolute path: {path!r}")
        seccomp, seccomp_profile = SeccompMode.PROFILE, path
    elif kind == pb.SecurityProfile.Unconfined:
        seccomp, seccomp_profile = SeccompMode.UNCONFINED, ""
    else:
        seccomp, seccomp_profile = SeccompMode.DEFAULT, ""
    return SecurityOptions(no_new_privileges=security.no_new_privs, seccomp=seccomp,
                           seccomp_profile=seccomp_profile,
                           masked_paths=tuple(security.masked_paths) or None,
                           readonly_paths=tuple(security.readonly_paths) or None)


def resources_of(linux: pb.LinuxContainerResources, cgroup_parent: str, devices) -> Resources:
    if linux.hugepage_limits:
        raise InvalidArgument("CreateContainer: hugepage limits are not supported by pouchd")
    return Resources(
        memory=linux.memory_limit_in_bytes,
        memory_swap=linux.memory_swap_limit_in_bytes,
        cpu_shares=linux.cpu_shares,
        cpu_period=linux.cpu_period,
        cpu_quota=linux.cpu_quota,
        cpuset_cpus=linux.cpuset_cpus,
        cpuset_mems=linux.cpuset_mems,
        devices=tuple(DeviceMapping(d.host_path, d.container_path or d.host_path, d.permissions or "rwm")
                      for d in devices),
        cgroup_parent=cgroup_parent,
    )


def isolation_of(linux: pb.LinuxContainerConfig, pod_id: str, facts: PodFacts,
                 min_oom_score_adj: int = -1000) -> Isolation:
    security = linux.security_context
    ns = security.namespace_options
    if ns.pid == pb.TARGET:
        if not ns.target_id:
            raise InvalidArgument("CreateContainer: namespace_options.pid TARGET needs a target_id")
        pid_mode = f"container:{ns.target_id}"
    elif ns.pid == pb.NODE or facts.host_pid:
        pid_mode = "host"
    elif ns.pid == pb.POD:
        pid_mode = f"container:{pod_id}"
    else:
        pid_mode = ""
    return Isolation(
        ipc_mode="host" if facts.host_ipc else f"container:{pod_id}",
        pid_mode=pid_mode,
        uts_mode="host" if facts.host_network else f"container:{pod_id}",
        group_add=tuple(str(g) for g in security.supplemental_groups),
        oom_score_adj=max(linux.resources.oom_score_adj, min_oom_score_adj),
    )


def resource_changes(linux: pb.LinuxContainerResources) -> dict[str, object]:
    """UpdateContainerResources: the limits given (a zero is "not given", as in Docker's update),
    in the engine's ``services/resources.update`` terms."""
    if linux.hugepage_limits:
        raise InvalidArgument("UpdateContainerResources: hugepage limits are not supported by pouchd")
    values = {"memory": linux.memory_limit_in_bytes, "memory_swap": linux.memory_swap_limit_in_bytes,
              "cpu_shares": linux.cpu_shares, "cpu_period": linux.cpu_period, "cpu_quota": linux.cpu_quota,
              "cpuset_cpus": linux.cpuset_cpus, "cpuset_mems": linux.cpuset_mems}
    return {k: v for k, v in values.items() if v}
