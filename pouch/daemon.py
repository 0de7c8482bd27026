"""pouchd: configuration, wiring, startup recovery, the serve loop.

Containers are supervised by conmon, not by pouchd: stopping or killing the
daemon leaves them running, and the next start re-attaches to them
(``ContainerService.recover``).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import shlex
import signal
import sys
import threading
from typing import Any

from pouch import __version__
from pouch.api.listeners import open_listeners
from pouch.api.routes import build_router
from pouch.api.server import Server
from pouch.config import (
    DEFAULT_CNI_CONF_DIR,
    DEFAULT_CONFIG_FILE,
    DEFAULT_CRI_LISTEN,
    DEFAULT_EXEC_ROOT,
    DEFAULT_HOST,
    DEFAULT_ROOT,
    DEFAULT_SOCKET_GROUP,
    DaemonConfig,
)
from pouch.cri.server import CriServer
from pouch.daemon_config import (
    NOT_IN_FILE,
    FileOption,
    file_option,
    merge,
    plan_reload,
    read_config_file,
    values_from_file,
)
from pouch.engine import Engine, build_engine
from pouch.errors import InvalidArgument, PouchError
from pouch.fds import raise_nofile_limit
from pouch.listen import check_tls, parse_host
from pouch.malloc import pin_malloc_thresholds
from pouch.models import LogConfig
from pouch.registry.endpoints import validate_mirror
from pouch.runtime import logconfig
from pouch.snapshots.quota_manager import DiskQuotas
from pouch.systemd import notify

log = logging.getLogger("pouchd")


class _Parser(argparse.ArgumentParser):
    """argparse that keeps its options: daemon.json takes the same settings (pouch/daemon_config.py)."""

    def __init__(self, **kwargs: Any) -> None:
        self.options: list[argparse.Action] = []
        super().__init__(**kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options.append(action)
        return action


def build_parser() -> _Parser:
    parser = _Parser(prog="pouchd", description="The Pouch container engine daemon")
    _add_listening_options(parser)
    _add_engine_options(parser)
    _add_integration_options(parser)
    parser.add_argument("-D", "--debug", action="store_true", help="debug logging")
    parser.add_argument("--debug-faults", default="", help=argparse.SUPPRESS)  # tests: services/faults.py
    parser.add_argument("-v", "--version", action="version", version=f"pouchd version {__version__}")
    return parser


def _add_listening_options(parser: _Parser) -> None:
    """The config file, the API's addresses, its socket group and TLS."""
    parser.add_argument("--config-file", default=DEFAULT_CONFIG_FILE, metavar="FILE",
                        help="daemon configuration file, the flags' settings as JSON (default %(default)s)")
    parser.add_argument("-H", "--host", action="append", default=[], metavar="ADDRESS",
                        help="where to serve the API, repeatable: unix:///PATH, tcp://HOST:PORT (TLS unless loopback), "
                             f"fd:// (systemd socket activation) (default {DEFAULT_HOST})")
    parser.add_argument("-G", "--group", default=DEFAULT_SOCKET_GROUP,
                        help="group of the unix sockets; root's when the default group does not exist (default %(default)s)")
    parser.add_argument("--tls", action="store_true", help="serve tcp:// hosts over TLS (implied by --tlsverify)")
    parser.add_argument("--tlsverify", action="store_true",
                        help="serve tcp:// hosts over TLS and accept only clients with a certificate signed by --tlscacert")
    parser.add_argument("--tlscacert", default=DaemonConfig.tls_cacert, metavar="FILE",
                        help="the CA that signs clients' certificates (default %(default)s)")
    parser.add_argument("--tlscert", default=DaemonConfig.tls_cert, metavar="FILE",
                        help="the server's TLS certificate (default %(default)s)")
    parser.add_argument("--tlskey", default=DaemonConfig.tls_key, metavar="FILE",
                        help="the server's TLS key (default %(default)s)")


def _add_engine_options(parser: _Parser) -> None:
    """Where state lives, the OCI runtimes, the default bridge, container logs, hooks."""
    parser.add_argument("--root", "--data-root", dest="root", default=DEFAULT_ROOT,
                        help="persistent state directory (default %(default)s)")
    parser.add_argument("--exec-root", default=DEFAULT_EXEC_ROOT, help="volatile state directory (default %(default)s)")
    parser.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH",
                        help="register an OCI runtime (repeatable), e.g. crun=/usr/bin/crun")
    parser.add_argument("--runtime-args", action="append", default=[], metavar="NAME=ARGS",
                        help="global options for runtime NAME, split as a shell would (repeatable; dockerd's "
                             "runtimeArgs), e.g. runsc='--network=host'")
    parser.add_argument("--default-runtime", default="runc", metavar="NAME",
                        help="the runtime of containers created without --runtime (default %(default)s)")
    parser.add_argument("--bridge-name", default="p0", help="the default bridge network's interface (default %(default)s)")
    parser.add_argument("--bip", default="192.168.5.0/24", help="the default bridge network's subnet (default %(default)s)")
    parser.add_argument("--log-driver", default="json-file",
                        help="containers' default log driver: json-file, local, syslog, none (default %(default)s)")
    parser.add_argument("--log-opt", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the default log driver (repeatable), e.g. max-size=10m")
    parser.add_argument("--log-max-size", default="10m", help="container log size before rotation (default %(default)s)")
    parser.add_argument("--log-max-files", type=int, default=2,
                        help="log files kept per container, the current one included (default %(default)s)")
    parser.add_argument("--hooks-dir", default="/etc/pouch/hooks.d",
                        help="host OCI hooks, one oci-hooks(5) JSON file each (default %(default)s)")
    parser.add_argument("--max-layer-size", default="64g", metavar="SIZE",
                        help="refuse an image layer that unpacks to more than SIZE (0: only --root's free space "
                             "bounds it; default %(default)s)")


def _add_integration_options(parser: _Parser) -> None:
    """lxcfs, registries, disk quotas and the Kubernetes CRI."""
    # lxcfs (pouch/rich/lxcfsd.py)
    parser.add_argument("--userns-remap", default="", metavar="default",
                        help='"default": every container gets a user namespace of its own (as --userns=auto)')
    parser.add_argument("--enable-lxcfs", "--enableLxcfs", dest="enable_lxcfs", action="store_true",
                        help="start and watch lxcfs, for containers run with --enable-lxcfs")
    parser.add_argument("--lxcfs", default="/usr/bin/lxcfs", help="the lxcfs binary (default %(default)s)")
    # registries (pouch/registry)
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]|CIDR",
                        help="a registry spoken to over plain HTTP (loopback registries always are)")
    parser.add_argument("--registry-mirror", action="append", default=[], metavar="URL",
                        help="a mirror tried before Docker Hub for docker.io images")
    parser.add_argument("--registry-timeout", type=float, default=30.0,
                        help="seconds before a silent registry is given up (default %(default)s)")
    parser.add_argument("--registry-certs-dir", default="/etc/pouch/certs.d", metavar="DIR",
                        help="CAs (*.crt) and client certificates (*.cert + *.key) per registry in DIR/HOST[:PORT]/, "
                             "as Docker's certs.d (default %(default)s)")
    parser.add_argument("--disk-quota", action="store_true",
                        help="containers' --disk-quota: check at start that --root keeps project quotas "
                             "(ext4/xfs mounted with prjquota) or btrfs qgroups (turned on here)")
    # Kubernetes CRI (pouch/cri)
    parser.add_argument("--cri", action="store_true", help="also serve the Kubernetes CRI v1 (for a kubelet, crictl)")
    parser.add_argument("--cri-listen", default=DEFAULT_CRI_LISTEN, metavar="unix:///PATH",
                        help="the CRI socket (default %(default)s)")
    parser.add_argument("--cri-stream-address", default="127.0.0.1", metavar="ADDRESS",
                        help="where the CRI streaming server (exec, attach, port-forward) listens (default %(default)s)")
    parser.add_argument("--cri-stream-port", type=int, default=0, metavar="PORT",
                        help="its port; 0: one the kernel picks at each start (default %(default)s)")
    parser.add_argument("--cni-conf-dir", default=DEFAULT_CNI_CONF_DIR, metavar="DIR",
                        help="CNI configs for pods: the first by name is used (default %(default)s)")
    parser.add_argument("--cni-bin-dir", default=":".join(DaemonConfig.cni_plugin_dirs), metavar="DIR[:DIR...]",
                        help="where CNI plugins are looked up (default %(default)s)")
    parser.add_argument("--pod-infra-image", default="", metavar="IMAGE",
                        help="the image of pods' infra containers, pulled when missing "
                             "(default: one pouchd makes from Debian's catatonit)")
    parser.add_argument("--api-idle-timeout", type=float, default=DaemonConfig.api_idle_timeout, metavar="SECONDS",
                        help="close an API connection silent for this long (default %(default)s)")


def file_options(parser: _Parser) -> list[FileOption]:
    """Each flag as daemon.json knows it (its key, the JSON value it takes, its default)."""
    out = []
    for action in parser.options:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if action.dest == argparse.SUPPRESS or action.dest in NOT_IN_FILE or not longs:
            continue
        number = action.type if action.type in (int, float) else None
        out.append(file_option(action.dest, longs[0], takes_value=action.nargs != 0,
                               is_list=isinstance(action.default, list), number=number, default=action.default))
    return out


def given_flags(argv: list[str] | None = None) -> dict[str, Any]:
    """The flags on the command line, by dest, and nothing else (no defaults): what daemon.json may not repeat."""
    parser = build_parser()
    for action in parser.options:
        if action.help:  # --help still shows the defaults
            action.help = action.help.replace("%(default)s", str(action.default))
        action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


def load_config(flags: dict[str, Any]) -> DaemonConfig:
    """The configuration from these flags and the config file (read now); InvalidArgument on any problem."""
    parser = build_parser()
    options = file_options(parser)
    path = flags.get("config_file", DEFAULT_CONFIG_FILE)
    doc = read_config_file(path, required="config_file" in flags)
    given = {dest: value for dest, value in flags.items() if dest != "config_file"}
    flag_only = {a.dest: a.default for a in parser.options if a.dest in NOT_IN_FILE and a.default != argparse.SUPPRESS}
    values = flag_only | merge(given, values_from_file(doc, options), options)  # flag-only settings keep their default
    return config_from(argparse.Namespace(**values), config_file=path)


def parse_args(argv: list[str] | None = None) -> DaemonConfig:
    try:
        return load_config(given_flags(argv))
    except InvalidArgument as err:
        raise SystemExit(f"pouchd: {err.message}") from None


def config_from(args: argparse.Namespace, config_file: str = DEFAULT_CONFIG_FILE) -> DaemonConfig:
    """The settings (flags and file merged) checked and turned into a DaemonConfig."""
    tls = args.tls or args.tlsverify
    hosts = [parse_host(h, tls) for h in (args.host or [os.environ.get("POUCH_HOST", DEFAULT_HOST)])]
    check_tls(tuple(hosts), tls)
    log_opts = _log_opts(args.log_driver, args.log_opt)
    runtimes = _runtimes(args.add_runtime, args.default_runtime)
    cri_listen = args.cri_listen if "://" in args.cri_listen else "unix://" + args.cri_listen
    if not cri_listen.startswith("unix://"):
        raise InvalidArgument(f"--cri-listen: only unix:// sockets are supported: {args.cri_listen}")
    if not 0 <= args.cri_stream_port <= 65535:
        raise InvalidArgument(f"--cri-stream-port: not a port: {args.cri_stream_port}")
    return DaemonConfig(
        hosts=tuple(str(h) for h in hosts),
        root=os.path.abspath(args.root),
        exec_root=os.path.abspath(args.exec_root),
        runtimes=runtimes,
        runtime_args=_runtime_args(args.runtime_args, runtimes),
        default_runtime=args.default_runtime,
        bridge_name=args.bridge_name,
        bridge_subnet=args.bip,
        log_max_size=parse_size(args.log_max_size),
        log_max_files=max(1, args.log_max_files),
        hooks_dir=os.path.abspath(args.hooks_dir),
        enable_lxcfs=args.enable_lxcfs,
        userns_remap=_userns_remap(args.userns_remap),
        lxcfs_path=args.lxcfs,
        insecure_registries=tuple(args.insecure_registry),
        registry_mirrors=tuple(validate_mirror(m) for m in args.registry_mirror),
        registry_timeout=args.registry_timeout,
        registry_certs_dir=args.registry_certs_dir,
        disk_quota=args.disk_quota,
        cri=args.cri,
        cri_listen=cri_listen,
        cri_stream_address=args.cri_stream_address,
        cri_stream_port=args.cri_stream_port,
        cni_conf_dir=os.path.abspath(args.cni_conf_dir),
        cni_plugin_dirs=tuple(os.path.abspath(d) for d in args.cni_bin_dir.split(":") if d),
        pod_infra_image=args.pod_infra_image,
        api_idle_timeout=args.api_idle_timeout,
        max_layer_size=parse_size(args.max_layer_size),
        debug=args.debug,
        debug_faults=tuple(f for f in args.debug_faults.split(",") if f),
        group=args.group,
        tls=tls,
        tls_verify=args.tlsverify,
        tls_cacert=args.tlscacert,
        tls_cert=args.tlscert,
        tls_key=args.tlskey,
        log_driver=args.log_driver,
        log_opts=log_opts,
        config_file=config_file,
    )


def _log_opts(driver: str, items: list[str]) -> dict[str, str]:
    """``--log-opt KEY=VALUE``s (or the file's ``log-opts``), checked against ``--log-driver`` as a
    container's would be."""
    opts = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"--log-opt takes KEY=VALUE: {item}")
        opts[key] = value
    try:
        logconfig.check_choice(LogConfig(driver, opts))
        logconfig.settings(LogConfig(driver, opts), internal=False)
    except InvalidArgument as e:
        raise InvalidArgument(f"--log-driver/--log-opt: {e.message}") from None
    return opts


def _userns_remap(value: str) -> str:
    """``--userns-remap``: "" or "default". Docker's "default" maps every container to one shared
    range (user "dockremap" in /etc/subuid); Pouch's gives each container a range of its own."""
    if value not in ("", "default"):
        raise InvalidArgument(f'--userns-remap {value!r}: only "default" is supported (a range per container)')
    return value


def _runtimes(added: list[str], default: str) -> dict[str, str]:
    """runc, plus each ``--add-runtime NAME=PATH``; the ``--default-runtime`` must be one of them."""
    runtimes = {"runc": "/usr/bin/runc"}
    for item in added:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidArgument(f"--add-runtime takes NAME=PATH: {item}")
        if not os.access(path, os.X_OK):
            raise InvalidArgument(f"--add-runtime {name}: {path} is not an executable")
        runtimes[name] = path
    if default not in runtimes:
        raise InvalidArgument(f"--default-runtime {default} is not a registered runtime "
                              f"(registered: {', '.join(sorted(runtimes))}; add one with --add-runtime NAME=PATH)")
    return runtimes


def _runtime_args(given: list[str], runtimes: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Each ``--runtime-args NAME=ARGS`` (shell words; repeated for one NAME, they add up)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in given:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise InvalidArgument(f"--runtime-args takes NAME=ARGS: {item}")
        if name not in runtimes:
            raise InvalidArgument(f"--runtime-args {name}: not a registered runtime (add it with --add-runtime {name}=PATH)")
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise InvalidArgument(f"--runtime-args {name}: {exc}") from None
        out[name] = out.get(name, ()) + tuple(words)
    return out


def parse_size(text: str) -> int:
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
    text = text.strip().lower()
    number = text.rstrip("kmgb")
    unit = text[len(number):]
    try:
        if not number or unit not in units:
            raise ValueError(text)
        return int(float(number) * units[unit])
    except ValueError:
        raise InvalidArgument(f"invalid size: {text}") from None


def lock_root(config: DaemonConfig) -> int:
    """One daemon per root: a second pouchd on the same --root refuses to start."""
    os.makedirs(config.root, mode=0o710, exist_ok=True)  # private (pouch/private.py)
    fd = os.open(os.path.join(config.root, "pouchd.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"pouchd: another pouchd is using {config.root}") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def reload_config(engine: Engine, flags: dict[str, Any]) -> None:
    """SIGHUP: read the config file again and apply what dockerd reloads; a file that does not
    load (or a reloadable setting that is not valid) keeps the running configuration."""
    with _reload_lock:
        _reload(engine, flags)


_reload_lock = threading.Lock()


def _reload(engine: Engine, flags: dict[str, Any]) -> None:
    running = engine.live.current
    try:
        reload = plan_reload(running, load_config(flags))
        if reload.changed:
            engine.runtime.reload(reload.config)  # checks the runtimes before anything changes
    except PouchError as err:
        log.error("reloading %s failed, the configuration is unchanged: %s", running.config_file, err.message)
        return
    engine.live.replace(reload.config)
    logging.getLogger().setLevel(logging.DEBUG if reload.config.debug else logging.INFO)
    for name in reload.changed:
        log.info("reloaded %s: %s -> %s", name, getattr(running, name), getattr(reload.config, name))
    if not reload.changed:
        log.info("reloaded %s: nothing changed", running.config_file)
    if reload.needs_restart:
        log.warning("not reloaded, restart pouchd to change: %s", ", ".join(reload.needs_restart))


def main(argv: list[str] | None = None) -> None:
    try:
        flags = given_flags(argv)
        config = load_config(flags)
    except InvalidArgument as err:
        raise SystemExit(f"pouchd: {err.message}") from None
    logging.basicConfig(
        level=logging.DEBUG if config.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if os.geteuid() != 0:
        raise SystemExit("pouchd: must run as root")
    pin_malloc_thresholds()  # memory used by a burst of large requests goes back to the system
    soft, hard = raise_nofile_limit()  # one fd per client and per running container
    log.debug("open files limit: %s (hard %s)", soft, hard)
    lock_root(config)
    try:  # before the engine: a -H that cannot be served changes nothing on the host
        listeners = open_listeners(config)
    except PouchError as err:
        raise SystemExit(f"pouchd: {err.message}") from None
    if config.disk_quota:  # checked before anything is made (snapshots/quota_manager.py)
        try:
            log.info("disk quotas: %s", DiskQuotas(config, images=None).enable())
        except PouchError as err:
            raise SystemExit(f"pouchd --disk-quota: {err.message}") from None
    engine = build_engine(config)
    engine.containers.monitor.start()
    engine.upgrades.recover()  # upgrades a crash interrupted: the old or the new container (services/upgrade.py)
    engine.containers.recover()
    engine.gc.collect(startup=True)  # what a crash left unreferenced (services/gc.py), before serving
    engine.containers.log_rotator.start()
    if engine.lxcfs:
        try:
            engine.lxcfs.start()
        except Exception as err:  # noqa: BLE001 - one readable line, as for the other startup failures
            raise SystemExit(f"pouchd: lxcfs: {err}") from None
    server = Server(None, build_router(engine), listeners=listeners, idle_timeout=config.api_idle_timeout,
                    private_paths=(config.root, config.exec_root))
    cri = CriServer(engine, config.cri_listen) if config.cri else None
    if cri:
        try:
            cri.start()
        except (OSError, RuntimeError) as err:  # grpc: RuntimeError when it cannot bind
            raise SystemExit(f"pouchd: --cri-listen {config.cri_listen}: {err}") from None
    _handle_signals(engine, server, flags)
    log.info("pouchd %s listening on %s (root %s)", __version__, ", ".join(config.hosts), config.root)
    notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS=serving {', '.join(config.hosts)}")
    try:
        server.serve_forever()
    finally:
        notify("STOPPING=1")
        if cri:
            cri.stop()
        engine.containers.monitor.stop()
        engine.containers.timers.stop()  # pending restarts resume at the next start (recover)
        engine.containers.events.close()
        if engine.lxcfs:
            engine.lxcfs.stop()  # lxcfs itself keeps running for the containers
    sys.exit(0)


def _handle_signals(engine: Engine, server: Server, flags: dict[str, Any]) -> None:
    """SIGTERM/SIGINT stop serving (containers keep running); SIGHUP reloads the config file."""

    def shutdown(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down (containers keep running)", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    def reload(_signum: int, _frame: object) -> None:
        def run() -> None:
            notify("RELOADING=1")
            reload_config(engine, flags)
            notify("READY=1")

        threading.Thread(target=run, name="pouchd-reload", daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGHUP, reload)


if __name__ == "__main__":
    main()
