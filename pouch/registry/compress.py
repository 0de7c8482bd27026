"""gzip for push: a layer kept uncompressed (imported, committed, built) goes to a
registry compressed, as Docker pushes it.

ISA-L's gzip (``isal``, the library :mod:`pouch.archive` inflates with; its level 1
compresses several times faster than zlib's level 1) in threads of its own;
zlib at level 1 when isal is missing. The output is streamed into a file,
hashed as it is written.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from types import ModuleType
from typing import BinaryIO

igzip_threaded: ModuleType | None
try:
    from isal import igzip_threaded
except ImportError:  # pragma: no cover - a declared dependency; zlib does the work, slower
    igzip_threaded = None

CHUNK = 1024 * 1024


class _HashingFile:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.f.write(data)
        self.hasher.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.f.flush()


def _gzip_writer(out: _HashingFile):
    if igzip_threaded is None:  # pragma: no cover
        return gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)  # type: ignore[arg-type]
    return igzip_threaded.open(out, "wb", compresslevel=1, threads=min(2, os.cpu_count() or 1))


def gzip_file(source: BinaryIO, target: str) -> tuple[str, int]:
    """Compress ``source`` into the new file ``target``; its digest and size."""
    with open(target, "wb") as raw:
        out = _HashingFile(raw)
        with _gzip_writer(out) as gz:
            while chunk := source.read(CHUNK):
                gz.write(chunk)
        raw.flush()
    return "sha256:" + out.hasher.hexdigest(), out.size
