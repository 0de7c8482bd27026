"""``run``/``create`` flags -> the Docker Engine API ``POST /containers/create`` body.

Pure functions only (the environment and file reads are injected or explicit),
so every flag is unit-tested without a daemon. The wire shape is Docker Engine
API v1.41 ``ContainerConfig`` + ``HostConfig``; the parsing rules follow the
docker CLI (``opts/``, ``nat.ParsePortSpec``, ``go-units.RAMInBytes``,
``opts.ParseEnvFile``) so the same command line builds the same request.
"""

from __future__ import annotations

import os

from pouch.cli.flags import INT, LIST, STR, F
from pouch.cli.health_flags import HEALTH_FLAGS, healthcheck_config
from pouch.cli.mount_flag import parse_mount_flag
from pouch.cli.network_flags import NETWORK_FLAGS, networking_config
from pouch.cli.quota_flags import QUOTA_FLAGS, quota_host_config
from pouch.cli.resource_flags import RESOURCE_FLAGS, resource_host_config
from pouch.cli.values import OptionError, parse_cpus, parse_ram, parse_restart

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from pouch.cli.flags import Flag




CREATE_FLAGS: list[Flag] = [
    F("-a", "--attach", kind=LIST, help="Attach to STDIN, STDOUT or STDERR"),
    F("--add-host", kind=LIST, help="Add a custom host-to-IP mapping (host:ip)"),
    F("--cap-add", kind=LIST, help="Add Linux capabilities"),
    F("--cap-drop", kind=LIST, help="Drop Linux capabilities"),
    F("--cpu-shares", kind=INT, help="CPU shares (relative weight)"),
    F("--cpus", kind=STR, help="Number of CPUs", metavar="decimal"),
    F("--dns", kind=LIST, help="Set custom DNS servers"),
    F("--dns-option", kind=LIST, help="Set DNS options"),
    F("--dns-search", kind=LIST, help="Set custom DNS search domains"),
    F("--domainname", kind=STR, help="Container NIS domain name"),
    F("--entrypoint", kind=STR, help="Overwrite the default ENTRYPOINT of the image"),
    F("-e", "--env", kind=LIST, help="Set environment variables"),
    F("--env-file", kind=LIST, help="Read in a file of environment variables"),
    F("--expose", kind=LIST, help="Expose a port or a range of ports"),
    F("--gpus", kind=STR, help="GPU devices to add to the container (refused: pouchd has no GPU support)",
      metavar="gpu-request"),
    F("--group-add", kind=LIST, help="Add additional groups to join"),
    F("-h", "--hostname", kind=STR, help="Container host name"),
    F("--init", help="Run an init inside the container that forwards signals and reaps processes"),
    F("--initscript", kind=STR, help="Script inside the container run before the app (rich mode)"),
    F("--enable-lxcfs", "--enableLxcfs", dest="enable_lxcfs",
      help="Show the container's limits in /proc (meminfo, cpuinfo...) through lxcfs"),
    F("-i", "--interactive", help="Keep STDIN open even if not attached"),
    F("--ipc", kind=STR, help="IPC mode to use"),
    F("-l", "--label", kind=LIST, help="Set meta data on a container"),
    F("--link", kind=LIST, help="Add link to another container (default bridge only)"),
    F("--log-driver", kind=STR, help="Logging driver for the container (json-file, local, syslog, none)"),
    F("--log-opt", kind=LIST, help="Log driver options"),
    F("-m", "--memory", kind=STR, help="Memory limit", metavar="bytes"),
    F("--mount", kind=LIST, help="Attach a filesystem mount to the container"),
    F("--name", kind=STR, help="Assign a name to the container"),
    F("--network", "--net", kind=STR, help="Connect a container to a network", metavar="network"),
    F("--pid", kind=STR, help="PID namespace to use"),
    F("--platform", kind=STR, help="Set platform if server is multi-platform capable (the host's only)"),
    F("--privileged", help="Give extended privileges to this container"),
    F("--pull", kind=STR, default="missing", help='Pull image before running ("always", "missing", "never")'),
    F("-p", "--publish", kind=LIST, help="Publish a container's port(s) to the host"),
    F("-P", "--publish-all", help="Publish all exposed ports to random ports"),
    F("-q", "--quiet", help="Suppress the pull output"),
    F("--read-only", help="Mount the container's root filesystem as read only"),
    F("--restart", kind=STR, help="Restart policy to apply when a container exits", default="no"),
    F("--ops-dir", kind=STR, help="Host directory of ops components shown read-only in a rich container"),
    F("--poststop-hook", kind=LIST, help="Command run inside a rich container after the app exits"),
    F("--prestart-hook", kind=LIST, help="Command run inside a rich container before the app starts"),
    F("--rich", help="Start a rich container: an init as pid 1, the app as a supervised service"),
    F("--rich-mode", kind=STR, help="Rich container mode: dumb-init (default), sbin-init or systemd"),
    F("--rm", help="Automatically remove the container when it exits"),
    F("--runtime", kind=STR, help="Runtime to use for this container"),
    F("--security-opt", kind=LIST, help="Security Options"),
    F("--shm-size", kind=STR, help="Size of /dev/shm", metavar="bytes"),
    F("--stop-signal", kind=STR, help="Signal to stop a container"),
    F("--stop-timeout", kind=INT, help="Timeout (in seconds) to stop a container"),
    F("--sysctl", kind=LIST, help="Sysctl options"),
    F("--tmpfs", kind=LIST, help="Mount a tmpfs directory"),
    F("--cgroupns", kind=STR, help="Cgroup namespace to use (host; private is refused)"),
    F("--isolation", kind=STR, help="Container isolation technology (default only)"),
    F("-t", "--tty", help="Allocate a pseudo-TTY"),
    F("-u", "--user", kind=STR, help="Username or UID (format: <name|uid>[:<group|gid>])"),
    F("--userns", kind=STR, help='User namespace: "auto" (a host id range of its own) or "host"'),
    F("-v", "--volume", kind=LIST, help="Bind mount a volume"),
    F("--volumes-from", kind=LIST, help="Mount volumes from the specified container(s)"),
    F("-w", "--workdir", kind=STR, help="Working directory inside the container"),
]
CREATE_FLAGS += RESOURCE_FLAGS  # --memory-swap, --pids-limit, --ulimit, --device... (resource_flags.py)
CREATE_FLAGS += HEALTH_FLAGS  # --health-cmd, --health-interval..., --no-healthcheck (health_flags.py)
CREATE_FLAGS += NETWORK_FLAGS  # --ip, --network-alias, --mac-address (network_flags.py)
CREATE_FLAGS += QUOTA_FLAGS  # --disk-quota, --storage-opt (quota_flags.py)
RUN_FLAGS: list[Flag] = sorted(
    CREATE_FLAGS + [
        F("-d", "--detach", help="Run container in background and print container ID"),
        F("--detach-keys", kind=STR, help="Override the key sequence for detaching a container"),
        F("--sig-proxy", help="Proxy received signals to the process", default=True),
    ],
    key=lambda f: f.names[-1].lstrip("-"),
)

_PROTOS = ("tcp", "udp", "sctp")
PULL_POLICIES = ("always", "missing", "never")


def parse_pull_policy(value: str | None) -> str:
    """``--pull``: docker's ``validatePullOpt`` (empty is the default, ``missing``)."""
    if not value:
        return "missing"
    if value not in PULL_POLICIES:
        raise OptionError(f"invalid pull option: '{value}': must be one of \"always\", \"missing\" or \"never\"")
    return value


# ---------------------------------------------------------------------------
# small parsers (each mirrors one docker CLI helper)

def parse_env_list(values: list[str], environ: Mapping[str, str]) -> list[str]:
    """``-e KEY=v`` kept as is; ``-e KEY`` takes KEY from the environment (or is sent bare)."""
    out = []
    for value in values:
        key, eq, _ = value.partition("=")
        if not key:
            raise OptionError(f"invalid environment variable: {value}")
        if not eq and key in environ:
            value = f"{key}={environ[key]}"
        out.append(value)
    return out


def parse_env_file(text: str, environ: Mapping[str, str], filename: str = "") -> list[str]:
    """docker ``opts.ParseEnvFile``: one ``KEY=VALUE`` a line, ``#`` comments and
    blank lines skipped, ``KEY`` alone takes the value from the environment (and
    is dropped when unset); variable names may not contain whitespace."""
    out = []
    text = text.removeprefix("\ufeff")
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not key:
            raise OptionError(f"no variable name on line '{raw}'")
        if any(c.isspace() for c in key):
            raise OptionError(f"variable '{key}' contains whitespaces")
        if eq:
            out.append(f"{key}={value}")
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return out


def parse_labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, _, val = value.partition("=")
        if not key:
            raise OptionError(f"invalid label: {value}")
        labels[key] = val
    return labels


def _parse_port_range(text: str, what: str) -> tuple[int, int]:
    start, dash, end = text.partition("-")
    try:
        lo = int(start)
        hi = int(end) if dash else lo
    except ValueError:
        raise OptionError(f"invalid {what}: {text}") from None
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
        raise OptionError(f"invalid {what}: {text}")
    return lo, hi


def parse_publish(spec: str) -> list[tuple[str, dict[str, str]]]:
    """docker ``nat.ParsePortSpec``: ``[ip:][hostPort:]containerPort[/proto]``.

    Returns ``[("80/tcp", {"HostIp": ..., "HostPort": ...}), ...]``; ranges
    (``8000-8001:80-81``) expand pairwise; ``[::1]:8080:80`` takes IPv6."""
    raw, slash, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
    proto = proto.lower() if slash else "tcp"
    if proto not in _PROTOS:
        raise OptionError(f"invalid proto: {proto}")
    parts = raw.split(":")
    if len(parts) == 1:
        ip, host, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, container = "", parts[0], parts[1]
    elif len(parts) == 3:
        ip, host, container = parts
    else:  # bare IPv6 address: everything but the last two parts
        ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip and not _valid_ip(ip):
        raise OptionError(f"invalid IP address: {ip}")
    if not container:
        raise OptionError(f"no port specified: {spec}<empty>")
    c_lo, c_hi = _parse_port_range(container, "containerPort")
    h_lo = h_hi = 0
    if host:
        h_lo, h_hi = _parse_port_range(host, "hostPort")
        if (h_hi - h_lo) != (c_hi - c_lo) and c_hi != c_lo:
            raise OptionError(f"invalid ranges specified for container and host Ports: {container} and {host}")
    out = []
    for i in range(c_hi - c_lo + 1):
        if not host:
            host_port = ""
        elif c_hi == c_lo and h_hi != h_lo:
            host_port = f"{h_lo}-{h_hi}"  # one container port, any host port of a range
        else:
            host_port = str(h_lo + i)
        out.append((f"{c_lo + i}/{proto}", {"HostIp": ip, "HostPort": host_port}))
    return out


def _valid_ip(text: str) -> bool:
    parts = text.split(".")
    if len(parts) == 4:
        return all(p.isdigit() and int(p) <= 255 for p in parts)
    if ":" in text:
        return all(c in "0123456789abcdefABCDEF:." for c in text)
    return False


def parse_expose(spec: str) -> list[str]:
    port, slash, proto = spec.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in _PROTOS:
        raise OptionError(f"invalid proto: {proto}")
    lo, hi = _parse_port_range(port, "range format for --expose specification")
    return [f"{p}/{proto}" for p in range(lo, hi + 1)]


def parse_security_opts(values: list[str], read_file: Callable[[str], str]) -> list[str]:
    """``seccomp=/path/profile.json`` is inlined like docker does; others pass through."""
    out = []
    for value in values:
        key, eq, arg = value.partition("=")
        if not eq:
            key, eq, arg = value.partition(":")
        if key == "seccomp" and eq and arg not in ("unconfined", "builtin") and not arg.lstrip().startswith("{"):
            try:
                profile = read_file(arg)
            except OSError as e:
                raise OptionError(f"opening seccomp profile ({arg}) failed: {e.strerror or e}") from None
            value = f"seccomp={profile}"
        out.append(value)
    return out


def parse_add_host(value: str) -> str:
    """``host:ip`` (docker 20.10) or ``host=ip`` (newer docker) -> ``host:ip``."""
    if "=" in value:
        name, _, ip = value.partition("=")
    else:
        name, sep, ip = value.partition(":")
        if not sep:
            raise OptionError(f"bad format for add-host: {value!r}")
    if not name or not ip:
        raise OptionError(f"bad format for add-host: {value!r}")
    return f"{name}:{ip.strip('[]')}"


# ---------------------------------------------------------------------------

def absolute_bind_source(spec: str, getcwd: Callable[[], str]) -> str:
    """``-v ./data:/p`` -> ``-v $PWD/data:/p``: the docker CLI (>= 23) resolves a host part that is
    ``.`` or starts with ``./`` against the working directory; anything else is sent as written
    (a volume name, an absolute path, ``../x``, which dockerd refuses)."""
    host, _, rest = spec.partition(":")
    if host != "." and not host.startswith("./"):
        return spec
    return os.path.normpath(os.path.join(getcwd(), host)) + ":" + rest


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def build_create_body(opts: dict[str, Any], image: str, cmd: list[str], *,
                      run: bool = False,
                      environ: Mapping[str, str] | None = None,
                      read_file: Callable[[str], str] = _read_text) -> dict[str, Any]:
    """Parsed ``run``/``create`` flags -> ``POST /containers/create`` JSON body.

    ``run`` selects docker's ``run`` defaults (``-d`` attaches nothing, ``-i``
    sets StdinOnce); ``create`` keeps docker's ``create`` attach defaults. The ``--name`` goes in the query
    string, not here (see :func:`create_params`)."""
    env = dict(os.environ) if environ is None else environ
    get: Callable[[str], Any] = opts.get  # flag values are untyped (Any), absent ones None
    detach = bool(run and get("detach"))
    if get("rm") and get("restart") not in (None, "", "no"):
        raise OptionError("Conflicting options: --restart and --rm")

    env_list: list[str] = []
    for path in get("env_file") or []:
        try:
            env_list += parse_env_file(read_file(path), env, path)
        except OSError as e:
            raise OptionError(f"open {path}: {e.strerror or e}") from None
    env_list += parse_env_list(get("env") or [], env)

    attach = [a.lower() for a in get("attach") or []]
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise OptionError(f"valid streams are STDIN, STDOUT and STDERR: {a}")
    interactive = bool(get("interactive"))
    if detach:
        if attach:
            raise OptionError("Conflicting options: -a and -d")
        a_in = a_out = a_err = False
    elif attach:
        a_in, a_out, a_err = "stdin" in attach, "stdout" in attach, "stderr" in attach
    else:
        a_in, a_out, a_err = interactive, True, True

    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in get("expose") or []:
        for port in parse_expose(spec):
            exposed[port] = {}
    for spec in get("publish") or []:
        for port, binding in parse_publish(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)

    binds: list[str] = []
    volumes: dict[str, dict] = {}
    for spec in get("volume") or []:
        if ":" in spec:
            binds.append(absolute_bind_source(spec, os.getcwd))
        elif spec.startswith("/"):
            volumes[spec] = {}  # anonymous volume, like docker
        else:
            raise OptionError(f"invalid volume specification: '{spec}'")

    tmpfs: dict[str, str] = {}
    for spec in get("tmpfs") or []:
        dest, _, mount_opts = spec.partition(":")
        if not dest.startswith("/"):
            raise OptionError(f"invalid mount path for --tmpfs: {spec}")
        tmpfs[dest] = mount_opts

    sysctls: dict[str, str] = {}
    for spec in get("sysctl") or []:
        key, eq, val = spec.partition("=")
        if not eq or not key:
            raise OptionError(f"sysctl '{spec}' is not whitelisted")
        sysctls[key] = val

    config: dict[str, Any] = {
        "Hostname": get("hostname") or "",
        "Domainname": get("domainname") or "",
        "User": get("user") or "",
        "AttachStdin": a_in,
        "AttachStdout": a_out,
        "AttachStderr": a_err,
        "Tty": bool(get("tty")),
        "OpenStdin": interactive,
        "StdinOnce": bool(run and interactive and a_in and not detach),
        "Env": env_list,
        "Cmd": cmd or None,
        "Image": image,
        "Volumes": volumes or None,
        "WorkingDir": get("workdir") or "",
        "Entrypoint": [get("entrypoint")] if get("entrypoint") is not None else None,
        "Labels": parse_labels(get("label") or []),
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if get("stop_signal"):
        config["StopSignal"] = get("stop_signal")
    if get("stop_timeout") is not None:
        config["StopTimeout"] = get("stop_timeout")
    if (healthcheck := healthcheck_config(get)) is not None:
        config["Healthcheck"] = healthcheck
    # PouchContainer's rich-container fields; the daemon validates them (e.g. a mode without --rich)
    if get("rich"):
        config["Rich"] = True
    if get("rich_mode"):
        config["RichMode"] = get("rich_mode")
    if get("initscript"):
        config["InitScript"] = get("initscript")
    if get("prestart_hook"):
        config["PrestartHooks"] = list(get("prestart_hook"))
    if get("poststop_hook"):
        config["PoststopHooks"] = list(get("poststop_hook"))

    host: dict[str, Any] = {
        "Binds": binds or None,
        "NetworkMode": get("network") or "default",
        "PortBindings": bindings,
        "RestartPolicy": parse_restart(get("restart") or "no"),
        "AutoRemove": bool(get("rm")),
        "OpsDir": get("ops_dir") or "",
        "EnableLxcfs": bool(get("enable_lxcfs")),
        "VolumesFrom": get("volumes_from") or None,
        "CapAdd": get("cap_add") or None,
        "CapDrop": get("cap_drop") or None,
        "Dns": get("dns") or [],
        "DnsOptions": get("dns_option") or [],
        "DnsSearch": get("dns_search") or [],
        "ExtraHosts": [parse_add_host(h) for h in get("add_host") or []] or None,
        "GroupAdd": get("group_add") or None,
        "IpcMode": get("ipc") or "",
        "PidMode": get("pid") or "",
        "Privileged": bool(get("privileged")),
        "PublishAllPorts": bool(get("publish_all")),
        "ReadonlyRootfs": bool(get("read_only")),
        "SecurityOpt": parse_security_opts(get("security_opt") or [], read_file) or None,
    }
    if tmpfs:
        host["Tmpfs"] = tmpfs
    if get("mount"):
        host["Mounts"] = [parse_mount_flag(m) for m in get("mount")]
    if sysctls:
        host["Sysctls"] = sysctls
    if get("runtime"):
        host["Runtime"] = get("runtime")
    if get("userns"):
        host["UsernsMode"] = get("userns")
    if get("shm_size"):
        host["ShmSize"] = parse_ram(get("shm_size"))
    if get("memory"):
        host["Memory"] = parse_ram(get("memory"))
    if get("cpus"):
        host["NanoCpus"] = parse_cpus(get("cpus"))
    if get("cpu_shares") is not None:
        host["CpuShares"] = get("cpu_shares")
    if get("init"):
        host["Init"] = True
    host.update(_refused_by_the_daemon(get))
    if get("log_driver") or get("log_opt"):
        host["LogConfig"] = parse_log_opts(get("log_driver") or "", get("log_opt") or [])
    host.update(resource_host_config(get))
    host.update(quota_host_config(get))  # DiskQuota, StorageOpt
    config["HostConfig"] = host
    if get("platform"):
        config["Platform"] = get("platform")  # taken out into ?platform= by cli/run.py
    config.update(networking_config(get))  # NetworkingConfig, MacAddress (network_flags.py)
    return config


def _refused_by_the_daemon(get: Callable[[str], Any]) -> dict[str, Any]:
    """``--link`` and flags docker has that pouchd does not implement: sent as docker sends them, so
    the daemon answers (a 400 naming the option for the latter, as for any API client)."""
    host: dict[str, Any] = {}
    if get("gpus"):
        host["DeviceRequests"] = [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]], "Options": {}}]
    if get("link"):
        host["Links"] = [link if ":" in link else f"{link}:{link}" for link in get("link")]
    for flag, key in (("cgroupns", "CgroupnsMode"), ("isolation", "Isolation")):
        if get(flag):
            host[key] = get(flag)
    return host


def parse_log_opts(driver: str, values: list[str]) -> dict[str, Any]:
    """``--log-driver`` and ``--log-opt KEY=VALUE`` → ``HostConfig.LogConfig`` (the daemon checks them)."""
    config: dict[str, str] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise OptionError(f"invalid key value pair format in log-opt: '{value}'")
        config[key] = val
    if driver == "none" and config:
        raise OptionError("invalid logging opts for driver none")
    return {"Type": driver, "Config": config}


def create_params(opts: dict[str, Any]) -> dict[str, Any]:
    return {"name": opts.get("name") or None, "platform": opts.get("platform") or None}


