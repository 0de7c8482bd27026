"""Debug-only fault points: where a test kills pouchd mid-operation (``pouchd --debug-faults NAME``).

At a named point of an operation listed in ``DaemonConfig.debug_faults``, pouchd writes
``<root>/debug-faults/NAME`` and waits there for ever, so that a test sees the file and kills it
by its PID at exactly that point. Without the flag a point costs one tuple lookup.
"""

from __future__ import annotations

import logging
import os
import threading

from pouch.config import DaemonConfig

log = logging.getLogger(__name__)


def fault_point(config: DaemonConfig, name: str) -> None:
    if name not in config.debug_faults:
        return
    directory = os.path.join(config.root, "debug-faults")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with open(os.path.join(directory, name), "w", encoding="ascii") as f:
        f.write(f"{os.getpid()}\n")
    log.warning("debug fault point %s reached: waiting to be killed", name)
    threading.Event().wait()
