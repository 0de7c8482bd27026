"""Persistent network namespaces kept alive by a bind mount on a file.

A container's network namespace is created before the container (CNI needs a
namespace to put the veth in) and outlives its processes (``pouch restart``),
so, like ``ip netns add``, it is pinned by bind-mounting ``/proc/<tid>/ns/net``
onto a file under ``exec_root/netns/<container-id>``; runc then joins it by path.

How (no subprocess, ~1 ms): a short-lived thread calls ``unshare(CLONE_NEWNET)``
(the network namespace is per-thread in Linux, so only that thread moves), brings
``lo`` up with an ioctl on a socket opened inside the new namespace, bind-mounts
``/proc/thread-self/ns/net`` onto the file and exits. The mount keeps the
namespace alive.

The directory holding the files is made a *shared* mount of itself (what
``ip netns`` does for /run/netns): mount namespaces copied from the host later
(runc's, with rslave root propagation) then receive our unmounts, so a removed
namespace is not pinned by a stale copy of its bind mount elsewhere.

Glossary: *netns file* — the bind-mounted file; *netns dir* — its parent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import socket
import struct
import threading

from pouch import process
from pouch.errors import Internal

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]

_shared_dirs: set[str] = set()
_shared_lock = threading.Lock()


def _os_error(what: str, path: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what} {path}: {os.strerror(err)}", path)


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    if _libc.mount(enc(source), target.encode(), enc(fstype), flags, None) != 0:
        raise _os_error("mount", target)


def _umount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        raise _os_error("umount", target)


def _mount_points() -> set[str]:
    """Mount points of this mount namespace (mountinfo field 5, octal escapes decoded)."""
    with open("/proc/self/mountinfo", "rb") as f:
        lines = f.read().splitlines()
    points = set()
    for line in lines:
        raw = line.split(b" ")[4]
        points.add(raw.decode("unicode_escape").encode("latin-1").decode())
    return points


def ensure_netns_dir(netns_dir: str) -> None:
    """Create ``netns_dir`` and make it a shared mount of itself (idempotent, cached per process)."""
    netns_dir = os.path.realpath(netns_dir)
    with _shared_lock:
        if netns_dir in _shared_dirs:
            return
        os.makedirs(netns_dir, mode=0o755, exist_ok=True)
        if netns_dir not in _mount_points():
            _mount(netns_dir, netns_dir, None, MS_BIND | MS_REC)
        _mount(None, netns_dir, None, MS_SHARED | MS_REC)
        _shared_dirs.add(netns_dir)


def release_netns_dir(netns_dir: str) -> None:
    """Undo :func:`ensure_netns_dir` (tests, daemon uninstall). The dir must hold no netns files."""
    netns_dir = os.path.realpath(netns_dir)
    with _shared_lock:
        _shared_dirs.discard(netns_dir)
        if netns_dir in _mount_points():
            _umount(netns_dir)


def _set_link_up(sock: socket.socket, name: str) -> None:
    """``ip link set <name> up`` through SIOCSIFFLAGS, in the namespace ``sock`` belongs to."""
    ifreq = struct.pack("16sH14x", name.encode(), 0)
    flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
    fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))


def _in_new_netns(path: str, result: list) -> None:
    """Thread body: move this thread to a new netns, bring lo up, pin the netns on ``path``."""
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise _os_error("unshare(CLONE_NEWNET) for", path)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            _set_link_up(sock, "lo")
        _mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, MS_BIND)
    except BaseException as exc:  # handed to the caller's thread
        result.append(exc)


def create_netns(path: str) -> None:
    """Create a new network namespace with ``lo`` up, pinned on the file ``path``.

    ``path``'s parent is made a shared mount (:func:`ensure_netns_dir`). Raises
    :class:`~pouch.errors.Internal` if ``path`` exists or the namespace can't be made;
    on failure nothing is left behind.
    """
    ensure_netns_dir(os.path.dirname(path))
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
    except FileExistsError:
        raise Internal(f"network namespace {path} already exists") from None
    result: list[BaseException] = []
    worker = threading.Thread(target=_in_new_netns, args=(path, result), name="netns-create")
    worker.start()
    worker.join()
    if result:
        _remove_file(path)
        raise Internal(f"creating network namespace {path}: {result[0]}")
    log.debug("created netns %s", path)


def _remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def delete_netns(path: str) -> None:
    """Unmount and remove the netns file ``path``; a no-op if it is already gone."""
    for _ in range(8):  # a file may carry stacked mounts if someone mounted twice
        if _libc.umount2(path.encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err in (errno.EINVAL, errno.ENOENT):  # not a mount point / no such file
                break
            raise Internal(f"unmounting network namespace {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise Internal(f"removing network namespace file {path}: {exc.strerror}") from None
    log.debug("deleted netns %s", path)


def netns_exists(path: str) -> bool:
    """True if ``path`` is a pinned network namespace (a file with nsfs mounted on it)."""
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(path) or ".")
    except OSError:
        return False
    # an nsfs bind mount has its own device; a plain (leftover) file shares the dir's device
    return st.st_dev != parent.st_dev


def run_in_netns(path: str, func, *args):
    """Run ``func(*args)`` on a thread that has joined the netns at ``path``; return its result.

    For small in-namespace operations (tests, checks) without a subprocess.
    """
    out: list = []

    def body() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise _os_error("setns", path)
            finally:
                os.close(fd)
            out.append((True, func(*args)))
        except BaseException as exc:
            out.append((False, exc))

    worker = threading.Thread(target=body, name="netns-run")
    worker.start()
    worker.join()
    ok, value = out[0]
    if not ok:
        raise value
    return value


def _read_route_table() -> str:
    with open("/proc/thread-self/net/route") as f:
        return f.read()


def has_default_route(netns_path: str) -> bool:
    """True if the namespace has an IPv4 default route (read inside it, no subprocess)."""
    try:
        table = run_in_netns(netns_path, _read_route_table)
    except Exception:  # noqa: BLE001 - a vanished netns has no route
        return False
    return any(line.split()[1:2] == ["00000000"] and line.split()[7:8] == ["00000000"]
               for line in table.splitlines()[1:] if len(line.split()) > 7)


def add_default_route(netns_path: str, gateway: str, ifname: str) -> None:
    """The namespace's default route through ``gateway`` on ``ifname`` (after its primary
    network left); a failure is logged, the container keeps running."""
    result = process.run(["nsenter", f"--net={netns_path}", "ip", "route", "replace", "default",
                          "via", gateway, "dev", ifname])
    if not result.ok:
        log.warning("default route via %s: %s", gateway, result.stderr.decode(errors="replace").strip())
