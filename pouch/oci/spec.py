"""The OCI runtime spec (``config.json``, opencontainers/runtime-spec v1.0.2) of a container.

:func:`generate_spec` is a pure function of a :class:`SpecInput`: it starts from an
empty document and applies small ``with_*(spec, inp)`` options in turn, each filling one
part of the spec in place (containerd's ``SpecOpts`` pattern). The daemon gathers the
inputs (rootfs, /etc files, netns, resolved user, host limits, seccomp) at its IO edge.

Defaults are derived from what dockerd 20.10 writes on this kind of host for
``docker run -d busybox sleep 600``: Docker's 14 capabilities, its masked and read-only
/proc and /sys paths, its mounts and device cgroup rules, the unprivileged-port and ping
sysctls for containers with their own network namespace, no cgroup namespace (the host is
cgroup v1 hybrid, where Docker 20.10 shares the host's). Differences from Docker:

- ``container=pouch`` in the environment (as podman sets ``container=podman``);
- RLIMIT_NOFILE is set to 1048576 (what containers see under a dockerd started by
  systemd), clamped to the daemon's own hard limit: root here lacks CAP_SYS_RESOURCE, so a
  limit above the hard limit would make runc fail;
- every capability set is clamped to the daemon's bounding set
  (``SpecInput.host_capabilities``) for the same reason, which matters for
  ``--privileged`` and ``--cap-add ALL``;
- ``--privileged`` allows every device in the device cgroup, but the host's device nodes
  are not copied into ``linux.devices`` (Docker does copy them); the daemon may add them;
- ``--init`` binds the host's init (dumb-init) read-only at ``/sbin/docker-init``, the
  path Docker uses, so tools that look for it there keep working;
- a few ``io.pouch.*`` annotations name the container for OCI hooks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from pouch.cgroups.limits import clamp_rlimits
from pouch.errors import Internal, InvalidArgument
from pouch.models import DEFAULT_SHM_SIZE, CreateOptions, ImageConfig
from pouch.oci.caps import resolve_capabilities
from pouch.oci.env import merge_env
from pouch.oci.mounts import (
    assemble_mounts,
    bind_mount,
    default_mounts,
    etc_file_mounts,
    init_mount,
    rootfs_propagation,
    tmpfs_mount,
)
from pouch.oci.resources import RESOURCE_OPTIONS
from pouch.oci.specinput import SpecInput, SpecOption

OCI_VERSION = "1.0.2"

#: Docker's ``system.DefaultPathEnv`` for Linux, used when the image sets no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Where ``--init`` puts the init binary in the container (Docker's path).
INIT_DESTINATION = "/sbin/docker-init"

#: Docker's ``oci.DefaultSpec`` masked paths: hidden (bind of /dev/null or an empty tmpfs).
MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)

#: Docker's read-only paths under /proc.
READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def _dev(kind: str, major: int, minor: int, allow: bool = True) -> dict:
    return {"allow": allow, "type": kind, "major": major, "minor": minor, "access": "rwm"}


#: Device cgroup rules (config-linux.md#allowed-device-list), in Docker's order: deny
#: everything, allow /dev/zero, null, urandom, random, tty, console, deny /dev/fuse.
#: runc itself adds the rules for the default /dev nodes it creates (null, zero, full,
#: random, urandom, tty, ptmx, pts), and creates those nodes, so ``linux.devices`` stays empty.
DEFAULT_DEVICE_RULES: tuple[dict, ...] = (
    {"allow": False, "access": "rwm"},
    _dev("c", 1, 5),
    _dev("c", 1, 3),
    _dev("c", 1, 9),
    _dev("c", 1, 8),
    _dev("c", 5, 0),
    _dev("c", 5, 1),
    _dev("c", 10, 229, allow=False),
)

PRIVILEGED_DEVICE_RULES: tuple[dict, ...] = ({"allow": True, "access": "rwm"},)

#: Set by Docker only when the container has a network namespace of its own.
NETNS_SYSCTLS: dict[str, str] = {
    "net.ipv4.ip_unprivileged_port_start": "0",
    "net.ipv4.ping_group_range": "0 2147483647",
}

#: rlimits Pouch asks for, (soft, hard); clamped to the daemon's own hard limits.
DEFAULT_RLIMITS: dict[str, tuple[int, int]] = {"RLIMIT_NOFILE": (1048576, 1048576)}

ANNOTATION_ID = "io.pouch.container.id"
ANNOTATION_NAME = "io.pouch.container.name"
ANNOTATION_IMAGE = "io.pouch.image.name"


# --- pure helpers: command, environment, capabilities, rlimits -------------------------


def resolve_args(options: CreateOptions, image: ImageConfig) -> list[str]:
    """The process argv by Docker's rules (Dockerfile reference, "Understand how CMD and
    ENTRYPOINT interact"; moby ``daemon.merge``):

    - no ``--entrypoint``: image ENTRYPOINT + (user command, or else image CMD);
    - ``--entrypoint X``: X + user command; the image CMD is *not* used;
    - ``--entrypoint ""``: no entrypoint at all, only the user command;
    - nothing left: InvalidArgument("No command specified").
    """
    if options.entrypoint is not None:
        entrypoint = [] if list(options.entrypoint) in ([], [""]) else list(options.entrypoint)
        cmd = list(options.cmd or ())
    else:
        entrypoint = list(image.entrypoint or ())
        cmd = list(options.cmd) if options.cmd else list(image.cmd or ())
    args = entrypoint + cmd
    if not args or not args[0]:
        raise InvalidArgument("No command specified")
    return args


def resolve_env(options: CreateOptions, image: ImageConfig, hostname: str) -> list[str]:
    """``process.env``: PATH (Docker's default unless the image sets one), HOSTNAME,
    TERM=xterm with a tty, ``container=pouch``, then the image's variables, then the
    user's ``-e``, by the one rule of ``pouch.oci.env``."""
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if options.tty:
        base.append("TERM=xterm")
    base.append("container=pouch")
    return merge_env(merge_env(base, image.env), options.env)


def resolve_cwd(options: CreateOptions, image: ImageConfig) -> str:
    """``process.cwd``: ``-w``, else the image's WorkingDir, else ``/``."""
    if options.working_dir:
        if not options.working_dir.startswith("/"):
            raise InvalidArgument(
                f"the working directory '{options.working_dir}' is invalid, it needs to be an absolute path"
            )
        return posixpath.normpath(options.working_dir)
    if image.working_dir:
        return posixpath.normpath(posixpath.join("/", image.working_dir))
    return "/"


def has_own_netns(inp: SpecInput) -> bool:
    """The container has a network namespace of its own (not the host's, not another
    container's): only then may its net.* sysctls be set."""
    return inp.netns is not None and not inp.options.network.joins_container


# --- spec options ----------------------------------------------------------------------


def with_process(spec: dict, inp: SpecInput) -> None:
    """``process``: argv (behind the init with ``--init``), env, cwd, user, terminal."""
    args = resolve_args(inp.options, inp.image)
    if inp.options.init:
        args = [INIT_DESTINATION, "--", *args]
    spec["process"] = {
        "terminal": inp.options.tty,
        "user": inp.user.to_oci(),
        "args": args,
        "env": resolve_env(inp.options, inp.image, inp.hostname),
        "cwd": resolve_cwd(inp.options, inp.image),
        "oomScoreAdj": 0,
    }
    height, width = inp.options.console_size
    if inp.options.tty and height > 0 and width > 0:
        spec["process"]["consoleSize"] = {"height": height, "width": width}


def with_capabilities(spec: dict, inp: SpecInput) -> None:
    """``process.capabilities``: bounding, effective and permitted as Docker 20.10 sets them
    (no inheritable or ambient set, CVE-2022-24769)."""
    caps = resolve_capabilities(inp.options, inp.host_capabilities)
    spec["process"]["capabilities"] = {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}


def with_rlimits(spec: dict, inp: SpecInput) -> None:
    rlimits = clamp_rlimits(DEFAULT_RLIMITS, inp.host_rlimits)
    if rlimits:
        spec["process"]["rlimits"] = rlimits


def with_no_new_privileges(spec: dict, inp: SpecInput) -> None:
    """``--security-opt no-new-privileges``: ``process.noNewPrivileges``. An old record
    whose options never parsed refuses to start here (see ``SecurityOptions.invalid``)."""
    inp.options.security.check()
    if inp.options.security.no_new_privileges:
        spec["process"]["noNewPrivileges"] = True


def with_root(spec: dict, inp: SpecInput) -> None:
    """``root``: the mounted rootfs, read-only with ``--read-only``."""
    spec["root"] = {"path": inp.rootfs}
    if inp.options.read_only:
        spec["root"]["readonly"] = True


def with_hostname(spec: dict, inp: SpecInput) -> None:
    spec["hostname"] = inp.hostname


def with_mounts(spec: dict, inp: SpecInput) -> None:
    """``mounts`` (see ``pouch.oci.mounts``) and the root propagation the binds need."""
    opts = inp.options
    shm_size = opts.shm_size or DEFAULT_SHM_SIZE
    volumes = [v.as_bind() for v in opts.volumes]  # <root>/volumes/NAME/_data, resolved at create
    user = [bind_mount(b) for b in (*opts.binds, *volumes)] + [tmpfs_mount(t, d) for t, d in opts.tmpfs.items()]
    init = []
    if opts.init:
        if not inp.init_path:
            raise Internal("--init needs an init binary on the host, and none is configured")
        init = [init_mount(inp.init_path, INIT_DESTINATION)]
    mounts = assemble_mounts(
        default_mounts(shm_size, privileged=opts.privileged),
        etc_file_mounts(inp.etc_files, read_only=opts.read_only),
        user,
        init,
    )
    spec["mounts"] = [m.to_oci() for m in mounts]
    propagation = rootfs_propagation(opts.binds)
    if propagation:
        spec["linux"]["rootfsPropagation"] = propagation


def with_namespaces(spec: dict, inp: SpecInput) -> None:
    """mount, network (per ``inp.netns``), uts, pid, ipc; Docker's order."""
    namespaces: list[dict] = [{"type": "mount"}]
    if inp.netns is not None:
        namespaces.append({"type": "network", "path": inp.netns} if inp.netns else {"type": "network"})
    namespaces += [{"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]
    spec["linux"]["namespaces"] = namespaces


def with_sysctls(spec: dict, inp: SpecInput) -> None:
    if has_own_netns(inp):
        spec["linux"]["sysctl"] = dict(NETNS_SYSCTLS)


def with_system_paths(spec: dict, inp: SpecInput) -> None:
    """Docker's masked and read-only paths; none for a privileged container or with
    ``--security-opt systempaths=unconfined``."""
    security = inp.options.security
    if not inp.options.privileged and not security.unconfined_systempaths:
        masked, readonly = security.masked_paths, security.readonly_paths
        spec["linux"]["maskedPaths"] = list(MASKED_PATHS if masked is None else masked)
        spec["linux"]["readonlyPaths"] = list(READONLY_PATHS if readonly is None else readonly)


def with_devices(spec: dict, inp: SpecInput) -> None:
    """``linux.resources.devices``: Docker's rules, or everything when privileged."""
    rules = PRIVILEGED_DEVICE_RULES if inp.options.privileged else DEFAULT_DEVICE_RULES
    spec["linux"].setdefault("resources", {})["devices"] = [dict(r) for r in rules]


def with_cgroups_path(spec: dict, inp: SpecInput) -> None:
    spec["linux"]["cgroupsPath"] = inp.cgroups_path


def with_seccomp(spec: dict, inp: SpecInput) -> None:
    """``linux.seccomp``: as resolved by the daemon; never for a privileged container."""
    if inp.seccomp is not None and not inp.options.privileged:
        spec["linux"]["seccomp"] = inp.seccomp


def with_annotations(spec: dict, inp: SpecInput) -> None:
    annotations = {ANNOTATION_ID: inp.container_id, ANNOTATION_IMAGE: inp.options.image}
    if inp.options.name:
        annotations[ANNOTATION_NAME] = inp.options.name
    spec["annotations"] = annotations


#: The options :func:`generate_spec` applies, in order.
DEFAULT_OPTIONS: tuple[SpecOption, ...] = (
    with_process,
    with_capabilities,
    with_rlimits,
    with_root,
    with_hostname,
    with_mounts,
    with_namespaces,
    with_system_paths,
    with_devices,
    with_cgroups_path,
    with_sysctls,
    with_seccomp,
    with_no_new_privileges,
    with_annotations,
    *RESOURCE_OPTIONS,  # --memory, --cpus, --ulimit, --device, --ipc/--pid/--uts, --sysctl... (pouch.oci.resources)
)


def empty_spec() -> dict:
    return {"ociVersion": OCI_VERSION, "process": {}, "root": {}, "mounts": [], "linux": {}}


def generate_spec(inp: SpecInput, options: Sequence[SpecOption] = DEFAULT_OPTIONS) -> dict:
    """The runtime spec of a container: :func:`empty_spec` with each option applied."""
    spec = empty_spec()
    for option in options:
        option(spec, inp)
    return spec
