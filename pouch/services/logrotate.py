"""Size-based rotation of conmon's own k8s-file logs (``ctr.log``: containers created before log
drivers; the log drivers' files are rotated by their writer, ``runtime/logwriter.py``).

pouchd watches the sizes of the running containers' ``ctr.log`` and, when one passes ``--log-max-size``, renames it to
``ctr.log.1`` (shifting older ones up to ``--log-max-files - 1``) and asks conmon
through its ctl fifo to reopen the log at the original path. Nothing is lost:
conmon keeps writing to the renamed file until it reopens. conmon's own
``--log-size-max`` is not used: it counts all bytes since conmon started (reopens
included) and then truncates, which would throw away lines. While pouchd is down
the log grows; it is rotated when pouchd is back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def rotated_paths(path: str, max_files: int) -> list[str]:
    """The older files of a log that may exist, oldest first: ``ctr.log.N .. ctr.log.1``."""
    return [f"{path}.{n}" for n in range(max_files - 1, 0, -1)]


def rotate(path: str, max_files: int) -> None:
    """``ctr.log`` -> ``ctr.log.1`` -> ... ; the oldest beyond ``max_files`` is dropped."""
    if max_files <= 1:
        with contextlib.suppress(FileNotFoundError):
            os.truncate(path, 0)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}.{max_files - 1}")
    for n in range(max_files - 2, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}.{n}", f"{path}.{n + 1}")
    os.rename(path, f"{path}.1")


class LogRotator:
    """Checks the logs of running containers every ``interval`` seconds."""

    def __init__(self, max_size: int, max_files: int, running_logs: Callable[[], list[tuple[str, str]]],
                 reopen: Callable[[str], None], interval: float = 1.0) -> None:
        self.max_size = max_size
        self.max_files = max_files
        self._running_logs = running_logs  # -> [(container_id, log_path)]
        self._reopen = reopen
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-rotator", daemon=True)

    def start(self) -> None:
        if self.max_size > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check_once(self) -> None:
        for container_id, path in self._running_logs():
            try:
                if os.stat(path).st_size < self.max_size:
                    continue
                rotate(path, self.max_files)
                self._reopen(container_id)
            except FileNotFoundError:
                continue
            except Exception:  # noqa: BLE001 - one container's log must not stop the others
                log.exception("rotating the log of %s", container_id[:12])

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check_once()
