"""Watch conmon processes and report when a container's supervisor exits.

conmon double-forks, so it is not pouchd's child: it is watched through a pidfd
(``os.pidfd_open``), which becomes readable when the process exits. One thread
polls all of them; ``on_exit(container_id)`` runs on a short-lived worker
thread so a slow cleanup never delays the others.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ExitMonitor:
    def __init__(self, on_exit: Callable[[str], None]) -> None:
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._by_fd: dict[int, str] = {}
        self._poll = select.poll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._poll.register(self._wake_r, select.POLLIN)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="exit-monitor", daemon=True)
        self._workers: set[threading.Thread] = set()  # on_exit calls in flight

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_timeout: float = 15.0) -> None:
        """Stop watching, then let the ``on_exit`` calls in flight finish (a teardown cut
        short by pouchd's exit would leave mounts behind until the next start)."""
        self._stopping = True
        self._wake()
        self._thread.join(timeout=5)
        deadline = time.monotonic() + drain_timeout
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def watch(self, container_id: str, conmon_pid: int) -> None:
        """Report ``container_id`` once ``conmon_pid`` exits (at once if it already has)."""
        try:
            fd = os.pidfd_open(conmon_pid)
        except ProcessLookupError:
            self._dispatch(container_id)
            return
        with self._lock:
            self._by_fd[fd] = container_id
            self._poll.register(fd, select.POLLIN)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def _dispatch(self, container_id: str) -> None:
        worker = threading.Thread(target=self._safe_on_exit, args=(container_id,), name=f"exit-{container_id[:12]}",
                                  daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _safe_on_exit(self, container_id: str) -> None:
        try:
            self._on_exit(container_id)
        except Exception:
            log.exception("handling the exit of container %s failed", container_id)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _run(self) -> None:
        while not self._stopping:
            for fd, _event in self._poll.poll():
                if fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    continue
                with self._lock:
                    container_id = self._by_fd.pop(fd, None)
                    self._poll.unregister(fd)
                os.close(fd)
                if container_id:
                    self._dispatch(container_id)
