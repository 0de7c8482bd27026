"""A build context tar read as dockerd reads it.

The docker CLI (``docker build -f ../Dockerfile .``, classic builder) adds a Dockerfile from
outside the context to the context's tar under a random name (``.dockerfile.<hex>``); the tar
it sends then ends right after that file's data, without the padding to a 512-byte block nor
the two zero blocks that end a POSIX tar. Go's ``archive/tar`` reads that; Python's
``tarfile`` calls it truncated. :class:`CompleteTar` adds the missing zeros at the end of the
(uncompressed) stream; a complete tar only gets zeros after its end, which readers ignore.
"""

from __future__ import annotations

from typing import Protocol

BLOCK = 512


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def end_padding(length: int) -> int:
    """Zero bytes that end a tar of ``length`` bytes: its last block filled, then two zero blocks."""
    return -length % BLOCK + 2 * BLOCK


class CompleteTar:
    """``reader``'s bytes, then :func:`end_padding` zeros."""

    def __init__(self, reader: Readable) -> None:
        self._reader = reader
        self._length = 0
        self._tail: bytes | None = None  # the zeros still to give, once the reader is done

    def read(self, size: int = -1) -> bytes:
        if self._tail is None:
            data = self._reader.read(size)
            if data:
                self._length += len(data)
                return data
            self._tail = bytes(end_padding(self._length))
        n = len(self._tail) if size is None or size < 0 else size
        chunk, self._tail = self._tail[:n], self._tail[n:]
        return chunk
