"""One blob from a registry into a file, verified, resumed with HTTP Range after a cut.

The file lives in the content store's ingest dir, named by the blob's digest
(``ingest/<hex>.partial``), so a download cut off mid-way -- a dropped
connection, a timeout -- is resumed from where it stopped: by the next attempt
of the same pull (``retries``), or by the next pull. The sha256 runs over the
bytes as they arrive (a resumed file is hashed once from disk first); only a
file of the right size and digest is handed back, a wrong one is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator

from pouch.errors import InvalidArgument
from pouch.registry.client import RegistryClient, RegistryError
from pouch.types import Descriptor

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def blob_lock(digest: str) -> Iterator[None]:
    """One download of a blob at a time (two pulls sharing a layer write one ingest file)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(digest, threading.Lock())
    with lock:
        yield


def _hash_file(path: str, hasher) -> int:
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size


def fetch_blob(client: RegistryClient, blob: Descriptor, path: str, report: Callable[[int], None],
               retries: int = 3) -> None:
    """Download ``blob`` to ``path`` (resuming what is there); raises InvalidArgument for a
    digest or size mismatch (the file is deleted), RegistryError when every attempt failed
    (the file is kept for the next pull to resume)."""
    for attempt in range(1, retries + 1):
        hasher = hashlib.sha256()
        offset = _hash_file(path, hasher) if os.path.exists(path) else 0
        if blob.size and offset > blob.size:
            offset, hasher = 0, hashlib.sha256()
        try:
            hasher = _fetch_from(client, blob, path, offset, hasher, report)
            break
        except RegistryError as exc:
            if attempt == retries:
                raise
            log.info("download of %s cut off (%s); resuming (attempt %d of %d)", blob.digest, exc.message,
                     attempt + 1, retries)
    verify(path, blob, "sha256:" + hasher.hexdigest())


def _fetch_from(client: RegistryClient, blob: Descriptor, path: str, offset: int, hasher,
                report: Callable[[int], None]):
    """Append the blob's bytes from ``offset`` to ``path``; the hasher over the whole file."""
    if blob.size and offset == blob.size:
        return hasher
    reply = client.open_blob(blob.digest, offset)
    try:
        if offset and reply.status != 206:  # the registry ignored the Range: start over
            offset, hasher = 0, hashlib.sha256()
        with open(path, "ab" if offset else "wb") as out:
            count = offset
            report(count)
            try:
                while chunk := reply.read(CHUNK):
                    out.write(chunk)
                    hasher.update(chunk)
                    count += len(chunk)
                    report(count)
            finally:
                out.flush()
                os.fsync(out.fileno())  # what is kept for a resume, or committed, is on disk
        if blob.size and count < blob.size:
            raise RegistryError(f"connection closed after {count} of {blob.size} bytes")
    finally:
        reply.close()
    return hasher


def verify(path: str, blob: Descriptor, actual: str) -> None:
    """The file's size and sha256 (``actual``) against the descriptor; a wrong file is deleted."""
    size = os.path.getsize(path)
    problem = ""
    if actual != blob.digest:
        problem = f"digest mismatch: expected {blob.digest}, got {actual}"
    elif blob.size and size != blob.size:
        problem = f"size {size}, the manifest says {blob.size}"
    if problem:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise InvalidArgument(problem)
