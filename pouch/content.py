"""Digest-addressed blob store (OCI image-layout's ``blobs/sha256/<hex>``).

Layout under ``content_dir``::

    blobs/sha256/<hex>   committed blobs, read-only, named by their digest
    ingest/              temporary files being written; never read from

A write streams into ``ingest/``, hashes as it goes, verifies the digest and
only then renames into ``blobs/``: a reader can never see a partial or wrong
blob, and a crash leaves at most a stray file in ``ingest/``
(:meth:`ContentStore.cleanup` removes those at start; garbage collection, ``pouch.gc``,
those no write in progress holds).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import threading
from typing import BinaryIO, Protocol

from pouch.archive import Budget
from pouch.errors import InvalidArgument, NotFound
from pouch.types import Descriptor, is_digest

CHUNK = 1024 * 1024
OCTET_STREAM = "application/octet-stream"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def check_digest(digest: str) -> str:
    """Return the hex part of a ``sha256:<hex>`` digest, refusing anything else."""
    if not is_digest(digest):
        raise InvalidArgument(f"invalid digest {digest!r}: only sha256:<64 hex> is supported")
    return digest.split(":", 1)[1]


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs_dir = os.path.join(root, "blobs", "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        os.makedirs(self.blobs_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.ingest_dir, mode=0o700, exist_ok=True)
        self._busy_lock = threading.Lock()
        self._busy: set[str] = set()  # names in ingest/ being written now (garbage collection spares them)

    def ingest_state(self) -> tuple[frozenset[str], frozenset[str]]:
        """The names in ``ingest/`` and those of them being written now, seen at one instant."""
        with self._busy_lock:
            return frozenset(os.listdir(self.ingest_dir)), frozenset(self._busy)

    def delete_ingest(self, name: str) -> None:
        """Remove a file from ``ingest/`` unless it is being written (garbage collection)."""
        with self._busy_lock:
            if name in self._busy or "/" in name or name in (".", ".."):
                return
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.ingest_dir, name))

    def path(self, digest: str) -> str:
        return os.path.join(self.blobs_dir, check_digest(digest))

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def write(self, stream: Readable, expected_digest: str | None = None, media_type: str = OCTET_STREAM,
              budget: Budget | None = None) -> Descriptor:
        """Stream ``stream`` into the store; verify ``expected_digest`` if given.

        Returns the descriptor of the committed blob. A mismatch raises
        :class:`InvalidArgument` naming both digests and stores nothing; so does a stream
        that passes ``budget`` (a layer's limit and the free space).
        """
        if expected_digest is not None:
            check_digest(expected_digest)
        with self._busy_lock:
            fd, tmp = tempfile.mkstemp(dir=self.ingest_dir, prefix="write-")
            self._busy.add(os.path.basename(tmp))
        try:
            hasher, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if budget is not None:
                        budget.check(size)
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = "sha256:" + hasher.hexdigest()
            if expected_digest is not None and actual != expected_digest:
                raise InvalidArgument(f"digest mismatch: expected {expected_digest}, got {actual}")
            os.chmod(tmp, 0o444)
            os.rename(tmp, self.path(actual))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            with self._busy_lock:
                self._busy.discard(os.path.basename(tmp))
        return Descriptor(media_type, actual, size)

    def ingest_path(self, digest: str, suffix: str = ".partial") -> str:
        """A file in ``ingest/`` named by ``digest``: a download kept to be resumed."""
        return os.path.join(self.ingest_dir, check_digest(digest) + suffix)

    def commit_file(self, path: str, digest: str) -> None:
        """Move a file already verified as ``digest`` (in ``ingest/``) into the store."""
        check_digest(digest)
        os.chmod(path, 0o444)
        os.rename(path, self.path(digest))

    def write_bytes(self, data: bytes, expected_digest: str | None = None, media_type: str = OCTET_STREAM) -> Descriptor:
        return self.write(io.BytesIO(data), expected_digest, media_type)

    def delete(self, digest: str) -> bool:
        """Remove a blob; return whether it existed."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[str]:
        return sorted("sha256:" + name for name in os.listdir(self.blobs_dir) if len(name) == 64)

    def blob_bytes(self, digest: str) -> int:
        """Disk space of a blob (0 when it is gone)."""
        try:
            return os.stat(self.path(digest)).st_blocks * 512
        except FileNotFoundError:
            return 0

    def cleanup(self) -> None:
        """Forget interrupted writes (call at daemon start)."""
        shutil.rmtree(self.ingest_dir, ignore_errors=True)
        os.makedirs(self.ingest_dir, mode=0o700, exist_ok=True)
