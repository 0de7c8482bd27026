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

from pouch import __version__
from pouch.api.routes import build_router
from pouch.api.server import Server
from pouch.config import (
    DEFAULT_CNI_CONF_DIR,
    DEFAULT_CRI_LISTEN,
    DEFAULT_EXEC_ROOT,
    DEFAULT_HOST,
    DEFAULT_ROOT,
    DaemonConfig,
)
from pouch.cri.server import CriServer
from pouch.engine import build_engine
from pouch.errors import InvalidArgument, PouchError
from pouch.registry.endpoints import validate_mirror
from pouch.snapshots.quota_manager import DiskQuotas

log = logging.getLogger("pouchd")


def parse_args(argv: list[str] | None = None) -> DaemonConfig:
    parser = argparse.ArgumentParser(prog="pouchd", description="The Pouch container engine daemon")
    parser.add_argument("-H", "--host", default=os.environ.get("POUCH_HOST", DEFAULT_HOST),
                        help="unix socket to listen on (default %(default)s)")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="persistent state directory (default %(default)s)")
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
    parser.add_argument("--log-max-size", default="10m", help="container log size before rotation (default %(default)s)")
    parser.add_argument("--log-max-files", type=int, default=2,
                        help="log files kept per container, the current one included (default %(default)s)")
    parser.add_argument("--hooks-dir", default="/etc/pouch/hooks.d",
                        help="host OCI hooks, one oci-hooks(5) JSON file each (default %(default)s)")
    # lxcfs (pouch/rich/lxcfsd.py)
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
    parser.add_argument("--cni-conf-dir", default=DEFAULT_CNI_CONF_DIR, metavar="DIR",
                        help="CNI configs for pods: the first by name is used (default %(default)s)")
    parser.add_argument("--cni-bin-dir", default=":".join(DaemonConfig.cni_plugin_dirs), metavar="DIR[:DIR...]",
                        help="where CNI plugins are looked up (default %(default)s)")
    parser.add_argument("--pod-infra-image", default="", metavar="IMAGE",
                        help="the image of pods' infra containers, pulled when missing "
                             "(default: one pouchd makes from Debian's catatonit)")
    parser.add_argument("-D", "--debug", action="store_true", help="debug logging")
    parser.add_argument("-v", "--version", action="version", version=f"pouchd version {__version__}")
    args = parser.parse_args(argv)

    host = args.host if "://" in args.host else "unix://" + args.host
    if not host.startswith("unix://"):
        parser.error(f"only unix:// hosts are supported: {args.host}")
    runtimes = _runtimes(parser, args.add_runtime, args.default_runtime)
    cri_listen = args.cri_listen if "://" in args.cri_listen else "unix://" + args.cri_listen
    if not cri_listen.startswith("unix://"):
        parser.error(f"--cri-listen: only unix:// sockets are supported: {args.cri_listen}")
    return DaemonConfig(
        host=host,
        root=os.path.abspath(args.root),
        exec_root=os.path.abspath(args.exec_root),
        runtimes=runtimes,
        runtime_args=_runtime_args(parser, args.runtime_args, runtimes),
        default_runtime=args.default_runtime,
        bridge_name=args.bridge_name,
        bridge_subnet=args.bip,
        log_max_size=parse_size(args.log_max_size),
        log_max_files=max(1, args.log_max_files),
        hooks_dir=os.path.abspath(args.hooks_dir),
        enable_lxcfs=args.enable_lxcfs,
        lxcfs_path=args.lxcfs,
        insecure_registries=tuple(args.insecure_registry),
        registry_mirrors=tuple(_mirror(parser, m) for m in args.registry_mirror),
        registry_timeout=args.registry_timeout,
        registry_certs_dir=args.registry_certs_dir,
        disk_quota=args.disk_quota,
        cri=args.cri,
        cri_listen=cri_listen,
        cni_conf_dir=os.path.abspath(args.cni_conf_dir),
        cni_plugin_dirs=tuple(os.path.abspath(d) for d in args.cni_bin_dir.split(":") if d),
        pod_infra_image=args.pod_infra_image,
        debug=args.debug,
    )


def _runtimes(parser: argparse.ArgumentParser, added: list[str], default: str) -> dict[str, str]:
    """runc, plus each ``--add-runtime NAME=PATH``; the ``--default-runtime`` must be one of them."""
    runtimes = {"runc": "/usr/bin/runc"}
    for item in added:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--add-runtime takes NAME=PATH: {item}")
        if not os.access(path, os.X_OK):
            parser.error(f"--add-runtime {name}: {path} is not an executable")
        runtimes[name] = path
    if default not in runtimes:  # one line, as the other startup refusals
        raise SystemExit(f"pouchd: --default-runtime {default} is not a registered runtime "
                         f"(registered: {', '.join(sorted(runtimes))}; add one with --add-runtime NAME=PATH)")
    return runtimes


def _runtime_args(parser: argparse.ArgumentParser, given: list[str],
                  runtimes: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Each ``--runtime-args NAME=ARGS`` (shell words; repeated for one NAME, they add up)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in given:
        name, sep, text = item.partition("=")
        if not sep or not name:
            parser.error(f"--runtime-args takes NAME=ARGS: {item}")
        if name not in runtimes:
            parser.error(f"--runtime-args {name}: not a registered runtime (add it with --add-runtime {name}=PATH)")
        try:
            words = shlex.split(text)
        except ValueError as exc:
            parser.error(f"--runtime-args {name}: {exc}")
        out[name] = out.get(name, ()) + tuple(words)
    return out


def _mirror(parser: argparse.ArgumentParser, url: str) -> str:
    try:
        return validate_mirror(url)
    except InvalidArgument as exc:
        parser.error(exc.message)
        raise


def parse_size(text: str) -> int:
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
    text = text.strip().lower()
    number = text.rstrip("kmgb")
    unit = text[len(number):]
    if not number or unit not in units:
        raise SystemExit(f"pouchd: invalid size: {text}")
    return int(float(number) * units[unit])


def lock_root(config: DaemonConfig) -> int:
    """One daemon per root: a second pouchd on the same --root refuses to start."""
    os.makedirs(config.root, mode=0o711, exist_ok=True)
    fd = os.open(os.path.join(config.root, "pouchd.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"pouchd: another pouchd is using {config.root}") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if config.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if os.geteuid() != 0:
        raise SystemExit("pouchd: must run as root")
    lock_root(config)
    if config.disk_quota:  # checked before anything is made (snapshots/quota_manager.py)
        try:
            log.info("disk quotas: %s", DiskQuotas(config, images=None).enable())
        except PouchError as err:
            raise SystemExit(f"pouchd --disk-quota: {err.message}") from None
    engine = build_engine(config)
    engine.containers.monitor.start()
    engine.containers.recover()
    engine.containers.log_rotator.start()
    if engine.lxcfs:
        try:
            engine.lxcfs.start()
        except Exception as err:  # noqa: BLE001 - one readable line, as for the other startup failures
            raise SystemExit(f"pouchd: lxcfs: {err}") from None

    os.makedirs(os.path.dirname(config.socket_path) or "/", exist_ok=True)
    server = Server(config.socket_path, build_router(engine))
    cri = CriServer(engine, config.cri_listen) if config.cri else None
    if cri:
        try:
            cri.start()
        except (OSError, RuntimeError) as err:  # grpc: RuntimeError when it cannot bind
            raise SystemExit(f"pouchd: --cri-listen {config.cri_listen}: {err}") from None

    def shutdown(signum, _frame) -> None:
        log.info("received %s, shutting down (containers keep running)", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("pouchd %s listening on %s (root %s)", __version__, config.host, config.root)
    try:
        server.serve_forever()
    finally:
        if cri:
            cri.stop()
        engine.containers.monitor.stop()
        engine.containers.timers.stop()  # pending restarts resume at the next start (recover)
        engine.containers.events.close()
        if engine.lxcfs:
            engine.lxcfs.stop()  # lxcfs itself keeps running for the containers
        try:
            os.unlink(config.socket_path)
        except FileNotFoundError:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
