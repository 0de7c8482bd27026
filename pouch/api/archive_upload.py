"""The tar of ``PUT /containers/{id}/archive`` read as dockerd reads it: member names relative to
the destination directory even when written absolute.

Compose v2 copies a ``configs:`` entry with ``content:`` (and ``secrets:`` from ``environment``)
into a created container as a tar whose member is named by its absolute target
(``/etc/app.conf``); dockerd's ``archive.Untar`` joins every name (and every hard link's target)
to the destination, so a leading ``/`` means nothing there. Pouch's extractor refuses absolute
names, so they are made relative here, on the way: a tar whose first member is already relative
(``docker cp``, docker-py) streams through untouched; otherwise each header is rewritten (PAX)
and the data copied in chunks, never held whole.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import Protocol

BLOCK = 512
CHUNK = 256 * 1024
_NAME_HEADERS = (b"x", b"g", b"L", b"K")  # PAX and GNU long-name headers: the name is elsewhere


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def first_name_is_relative(block: bytes) -> bool:
    """Whether the tar's first header names a relative path (ustar name + prefix); False when its
    name lives in an extended header (PAX, GNU long names) or the block is no header."""
    if len(block) < BLOCK or block[156:157] in _NAME_HEADERS:
        return False
    name = block[:100].split(b"\0", 1)[0]
    prefix = block[345:500].split(b"\0", 1)[0] if block[257:262] == b"ustar" else b""
    full = prefix + b"/" + name if prefix else name
    return bool(full) and not full.startswith(b"/")


def relative(name: str) -> str:
    """``/etc/app.conf`` -> ``etc/app.conf``; ``/`` alone -> ``.``."""
    return name.lstrip("/") or "."


class _Prefixed:
    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            n = len(self._head) if size is None or size < 0 else size
            chunk, self._head = self._head[:n], self._head[n:]
            return chunk
        return self._rest.read(size)


def _read_block(stream: Readable) -> bytes:
    data = b""
    while len(data) < BLOCK and (chunk := stream.read(BLOCK - len(data))):
        data += chunk
    return data


def _rewritten(stream: Readable) -> Iterator[bytes]:
    with tarfile.open(fileobj=stream, mode="r|") as tf:  # type: ignore[call-overload]
        for member in tf:
            member.name = relative(member.name)
            if member.islnk():
                member.linkname = relative(member.linkname)
            yield member.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
            if member.isreg() and member.size:
                data = tf.extractfile(member)
                left = member.size
                while left:
                    chunk = data.read(min(CHUNK, left))
                    if not chunk:
                        raise tarfile.ReadError("unexpected end of data")
                    left -= len(chunk)
                    yield chunk
                yield bytes(-member.size % BLOCK)
    yield bytes(2 * BLOCK)


def upload_chunks(stream: Readable) -> Iterator[bytes]:
    head = _read_block(stream)
    if first_name_is_relative(head) or len(head) < BLOCK:
        yield head
        while chunk := stream.read(CHUNK):
            yield chunk
        return
    yield from _rewritten(_Prefixed(head, stream))


class RelativeNames:
    """``stream`` (a tar) as a readable whose member names are relative (see the module doc)."""

    def __init__(self, stream: Readable) -> None:
        self._chunks = upload_chunks(stream)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = chunk
        n = len(self._pending) if size is None or size < 0 else size
        out, self._pending = self._pending[:n], self._pending[n:]
        return out
