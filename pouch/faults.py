"""Fault injection for the crash tests (tests/integration/test_fault_injection.py), debug only.

``pouchd --debug-faults`` with ``POUCH_FAULT=POINT[@N][,POINT[@N]...]`` in its environment
SIGKILLs itself the N-th time (the first without ``@N``) it passes a named :func:`point`: the
tests kill the daemon at an exact step of create, start, stop or rm and check what the next
start recovers. Without the flag the environment is never read and :func:`point` does nothing.

Points (``<operation>.<where>``) are named where they are placed; the tests list the ones they use.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger(__name__)

ENV = "POUCH_FAULT"

_armed: dict[str, int] = {}  # point -> passages left before the kill (1: this one)
_lock = threading.Lock()


def parse_faults(spec: str) -> dict[str, int]:
    """``"start.after-runtime-start@2,rm.after-delete"`` -> {point: passage that kills}."""
    armed: dict[str, int] = {}
    for item in spec.split(","):
        name, _, count = item.strip().partition("@")
        if name:
            armed[name] = max(1, int(count)) if count.isdigit() else 1
    return armed


def arm(enabled: bool, spec: str | None = None) -> None:
    """At daemon start: the points of ``spec`` (default: ``$POUCH_FAULT``) when ``enabled``."""
    with _lock:
        _armed.clear()
        if enabled:
            _armed.update(parse_faults(os.environ.get(ENV, "") if spec is None else spec))
    if _armed:
        log.warning("fault injection armed: %s", ", ".join(sorted(_armed)))


def point(name: str) -> None:
    """Pass the fault point ``name``: the daemon dies here when the point is armed and due."""
    if not _armed:
        return
    with _lock:
        left = _armed.get(name)
        if left is None:
            return
        if left > 1:
            _armed[name] = left - 1
            return
    log.warning("fault point %s: pouchd kills itself (SIGKILL)", name)
    os.kill(os.getpid(), signal.SIGKILL)
