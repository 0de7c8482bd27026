"""pouch.malloc: glibc's thresholds pinned so memory freed after a burst goes back (issue 12 §2)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os
from pouch.malloc import pin_malloc_thresholds, trim

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

assert pin_malloc_thresholds()
base = rss()
kept = []
for _ in range(3):
    parts = [os.urandom(64 * 1024) for _ in range(1024)]  # 64 MB in pieces, as a request body is read
    whole = b"".join(parts)
    kept.append(os.urandom(4096))  # something long-lived allocated after them, at the top of the heap
    del parts, whole
trim()
print(rss() - base)
"""


def test_a_burst_of_large_allocations_is_given_back():
    grown_kib = int(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                                   check=True).stdout)
    assert grown_kib < 16 * 1024
