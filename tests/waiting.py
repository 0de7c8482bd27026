"""Waiting for an observable condition in tests, never for a fixed time.

``wait_until(predicate, timeout)`` polls until ``predicate()`` is truthy and returns that
value, or fails the test naming what it waited for. A test that needs two threads or two
processes in a given order waits for what the first one did (a subscriber counted, a file
written, a process listed), so it is neither slow on an idle machine nor flaky on a busy one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or getattr(predicate, '__name__', 'a condition')}"
                                 f" (last value {value!r})")
        time.sleep(interval)
