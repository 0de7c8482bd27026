"""What pouchd speaks of systemd's service protocol: socket activation and sd_notify.

- Socket activation (``sd_listen_fds(3)``): systemd passes the sockets of ``pouchd.socket`` as
  fds 3, 4… with ``LISTEN_FDS=N`` and ``LISTEN_PID`` = our pid; ``-H fd://`` serves them.
- ``sd_notify(3)``: with ``Type=notify`` systemd waits for ``READY=1`` on the datagram socket
  named by ``NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace); also
  ``RELOADING=1``/``STOPPING=1`` and a ``STATUS=`` line.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket

log = logging.getLogger(__name__)

LISTEN_FDS_START = 3


def listen_fds(unset_environment: bool = True) -> list[int]:
    """The fds systemd passed to this process (none when LISTEN_PID is another process's), made
    close-on-exec; the variables are removed so that no child takes them for its own."""
    try:
        pid = int(os.environ.get("LISTEN_PID", ""))
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    finally:
        if unset_environment:
            for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
                os.environ.pop(name, None)
    if pid != os.getpid() or count <= 0:
        return []
    fds = list(range(LISTEN_FDS_START, LISTEN_FDS_START + count))
    for fd in fds:
        flags = fcntl.fcntl(fd, fcntl.F_GETFD)
        fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
    return fds


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``…) to systemd; False when not run under a notify service."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as err:
        log.warning("sd_notify %s: %s", state.split("\n")[0], err)
        return False
    return True
