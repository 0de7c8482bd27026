"""One timer thread for the daemon: restart back-offs and health probes.

``call_later(delay, fn, *args)`` returns a ``Timer`` that can be cancelled. The
thread only keeps the heap of due times; a due job runs on a small worker pool so
a slow one (a probe waiting for its timeout, a container start) never delays the
others. The thread starts with the first timer.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class Timer:
    __slots__ = ("due", "fn", "args", "cancelled")

    def __init__(self, due: float, fn: Callable, args: tuple) -> None:
        self.due = due
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, workers: int = 8, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pouch-timer")

    def call_later(self, delay: float, fn: Callable, *args) -> Timer:
        timer = Timer(self._clock() + max(0.0, delay), fn, args)
        with self._cond:
            if self._stopping:
                timer.cancel()
                return timer
            heapq.heappush(self._heap, (timer.due, next(self._order), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pouch-timers", daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def pending(self) -> int:
        with self._cond:
            return sum(1 for _, _, t in self._heap if not t.cancelled)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0][0] > self._clock()):
                    self._cond.wait(None if not self._heap else self._heap[0][0] - self._clock())
                if self._stopping:
                    return
                _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                try:
                    self._pool.submit(self._call, timer)
                except RuntimeError:  # the pool is shut down
                    return

    @staticmethod
    def _call(timer: Timer) -> None:
        if timer.cancelled:
            return
        try:
            timer.fn(*timer.args)
        except Exception:
            log.exception("timer job %s failed", getattr(timer.fn, "__name__", timer.fn))


class TimerSlots:
    """At most one pending timer per key (a container id): scheduling replaces the pending
    one, ``cancel`` drops it. What restart back-offs and health probes both keep."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._timers: dict[str, Timer] = {}
        self._lock = threading.Lock()

    def replace(self, key: str, delay: float, fn: Callable, *args) -> None:
        with self._lock:
            old = self._timers.get(key)
            if old is not None:
                old.cancel()
            self._timers[key] = self._scheduler.call_later(delay, fn, *args)

    def cancel(self, key: str) -> None:
        with self._lock:
            timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def discard(self, key: str) -> None:
        """The key's timer fired: forget it (nothing to cancel)."""
        with self._lock:
            self._timers.pop(key, None)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._timers
