"""When a streaming connection has been idle too long: no frame either way for ``timeout`` seconds.

kubelet's streaming server (and containerd's, CRI-O's) close a connection after 4 hours without
traffic (``StreamIdleTimeout``), so an abandoned ``kubectl exec`` does not hold its session forever.
"""

from __future__ import annotations

import time

STREAM_IDLE_TIMEOUT = 4 * 60 * 60.0
POLL = 1.0  # the readers look at the clock at least this often


class Activity:
    """The time of the last frame read or written, and whether that is too long ago."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._last = time.monotonic()

    def touch(self) -> None:
        self._last = time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() - self._last >= self.timeout

    def poll_interval(self) -> float:
        """How long a reader may block before it looks again."""
        return max(0.0, min(POLL, self.timeout - (time.monotonic() - self._last)))
