"""Keep pouchd's memory given back after a burst (issue 12 §2).

glibc raises its mmap threshold (up to 32 MB) each time a large mmap-ed block is freed,
and its trim threshold with it: after one large request body (or JSON answer), later ones
are carved from the heap and their pages stay with the process when freed. pouchd's RSS
grew by the size of the bodies and never came back. Fixed thresholds turn the dynamic
adjustment off: big blocks are always mmap-ed (unmapped on free) and free heap pages past
1 MB at the top are trimmed. Few arenas, too: Python's GIL serialises the allocating
threads anyway, and each arena of the one-thread-per-connection server holds its own
free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 1024 * 1024
ARENA_MAX = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None


def pin_malloc_thresholds() -> bool:
    """Fixed glibc malloc thresholds (see the module docstring); False where there is no glibc."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENA_MAX)))
    if not ok:
        log.debug("mallopt refused a setting: pouchd's memory may stay grown after large requests")
    return ok


def trim() -> None:
    """Give free heap pages back to the system now (``malloc_trim(0)``), e.g. after a large body."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
