"""A ``PodSandboxConfig`` as the create options of the pod's infra container (pure).

The pod sandbox is a Pouch container (the *infra* container, dockershim's choice): its id is
the pod sandbox id, its process (``catatonit -P``, or the ``--pod-infra-image``'s) does nothing
but hold the pod's namespaces and reap orphans; its network sandbox is made from the CNI
conflist of ``--cni-conf-dir`` as it is (``CreateOptions.cni_conflist``); the pod's
containers join its network, IPC and UTS namespaces (and PID with ``namespace_options.pid
== POD``). Everything later calls need is in its labels (``cri/labels.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.cri import api_pb2 as pb
from pouch.cri.labels import Metadata, PodFacts, pod_container_name, pod_labels
from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, Isolation, PortBinding, Resources, RestartPolicy, SeccompMode, SecurityOptions

PROTOCOLS = {pb.TCP: "tcp", pb.UDP: "udp", pb.SCTP: "sctp"}


def pod_metadata(config: pb.PodSandboxConfig) -> Metadata:
    m = config.metadata
    if not m.name or not m.uid or not m.namespace:
        raise InvalidArgument("RunPodSandbox: metadata.name, uid and namespace are required")
    return Metadata(name=m.name, attempt=m.attempt, uid=m.uid, namespace=m.namespace)


def pod_facts(config: pb.PodSandboxConfig, runtime_handler: str) -> PodFacts:
    ns = config.linux.security_context.namespace_options
    dns = config.dns_config
    return PodFacts(
        hostname=config.hostname, log_directory=config.log_directory,
        dns_servers=tuple(dns.servers), dns_searches=tuple(dns.searches), dns_options=tuple(dns.options),
        host_network=ns.network == pb.NODE, host_pid=ns.pid == pb.NODE, host_ipc=ns.ipc == pb.NODE,
        shared_pid=ns.pid == pb.POD, cgroup_parent=config.linux.cgroup_parent, runtime_handler=runtime_handler,
    )


def port_bindings(mappings: list[pb.PortMapping]) -> tuple[PortBinding, ...]:
    """The mappings with a host port (portmap's ``portMappings``); one without is not published,
    as kubelet's runtimes leave it out."""
    out = []
    for m in mappings:
        if m.host_port <= 0:
            continue
        if not 0 < m.container_port < 65536 or m.host_port > 65535:
            raise InvalidArgument(f"RunPodSandbox: invalid port mapping {m.host_port}:{m.container_port}")
        out.append(PortBinding(container_port=m.container_port, protocol=PROTOCOLS.get(m.protocol, "tcp"),
                               host_ip=m.host_ip, host_port=m.host_port))
    return tuple(out)


def infra_options(config: pb.PodSandboxConfig, *, image: str, runtime_handler: str,
                  conflist: Mapping[str, Any] | None) -> CreateOptions:
    """The infra container's create options. ``conflist``: the pod network's (None: no CNI
    config, refused unless the pod uses the host's network)."""
    metadata = pod_metadata(config)
    facts = pod_facts(config, runtime_handler)
    if not facts.host_network and conflist is None:
        raise InvalidArgument("RunPodSandbox: no CNI configuration in --cni-conf-dir (the network is not ready)")
    security = config.linux.security_context
    labels = pod_labels(metadata, dict(config.labels), dict(config.annotations), facts)
    return CreateOptions(
        image=image,
        name=pod_container_name(metadata),
        labels=labels,
        hostname="" if facts.host_network else config.hostname,
        network_mode="host" if facts.host_network else "pod",
        cni_conflist=None if facts.host_network else dict(conflist or {}),
        port_bindings=() if facts.host_network else port_bindings(list(config.port_mappings)),
        dns=tuple(facts.dns_servers), dns_search=tuple(facts.dns_searches), dns_options=tuple(facts.dns_options),
        runtime=runtime_handler,
        privileged=security.privileged,
        read_only=security.readonly_rootfs,
        security=SecurityOptions(seccomp=_pod_seccomp(security)),
        user=_infra_user(security),
        resources=Resources(cgroup_parent=config.linux.cgroup_parent),
        isolation=Isolation(
            ipc_mode="host" if facts.host_ipc else "shareable",
            pid_mode="host" if facts.host_pid else "",
            uts_mode="host" if facts.host_network else "",
            sysctls=dict(config.linux.sysctls),
        ),
        restart_policy=RestartPolicy("no"),  # the kubelet decides what comes back
        attach_stdout=False, attach_stderr=False,
    )


def _pod_seccomp(security: pb.LinuxSandboxSecurityContext) -> SeccompMode:
    """The infra process is confined by the runtime's default, unless the pod is unconfined."""
    if security.seccomp.profile_type == pb.SecurityProfile.Unconfined:
        return SeccompMode.UNCONFINED
    return SeccompMode.DEFAULT


def _infra_user(security: pb.LinuxSandboxSecurityContext) -> str:
    if not security.HasField("run_as_user"):
        return ""
    user = str(security.run_as_user.value)
    if security.HasField("run_as_group"):
        user += f":{security.run_as_group.value}"
    return user
