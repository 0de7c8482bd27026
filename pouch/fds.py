"""File descriptors at scale: waiting on them without ``select()``, and the process's fd limit.

``select()`` cannot watch an fd numbered 1024 or more (FD_SETSIZE); pouchd holds one fd per
client connection and per running container (a pidfd), so past about a thousand of either a
``select()`` fails with "filedescriptor out of range". Every wait on an fd goes through
``wait_readable`` (``poll(2)``), which takes any fd number.
"""

from __future__ import annotations

import resource
import select
import time
from collections.abc import Sequence
from typing import Protocol

_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR | select.POLLNVAL


class HasFileno(Protocol):
    def fileno(self) -> int: ...


def _fd(obj: int | HasFileno) -> int:
    return obj if isinstance(obj, int) else obj.fileno()


def wait_readable(fds: Sequence[int | HasFileno], timeout: float | None,
                  hangup: Sequence[int | HasFileno] = ()) -> set[int]:
    """The fds of ``fds`` that are readable (or hung up, or in error) within ``timeout``
    seconds (None: no limit), with those of ``hangup`` that are hung up (their input is not
    watched); an empty set when the time ran out."""
    poller = select.poll()
    for fd in fds:
        poller.register(_fd(fd), _READABLE)
    for fd in hangup:
        poller.register(_fd(fd), 0)  # POLLHUP and POLLERR are always reported
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        ms = None if remaining is None else int(remaining * 1000) + (remaining > 0)
        ready = {fd for fd, events in poller.poll(ms) if events & _READABLE}
        if ready or (deadline is not None and time.monotonic() >= deadline):
            return ready


def hung_up(fd: int | HasFileno) -> bool:
    """True when the peer of a socket (or pipe) closed it completely; never blocks."""
    poller = select.poll()
    poller.register(_fd(fd), select.POLLHUP | select.POLLERR)
    return any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0))


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard one (never above it: that needs
    CAP_SYS_RESOURCE); the limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard
