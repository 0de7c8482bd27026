"""Times of tar entries, exactly: one place for the layer unpacker and the `cp` helper."""

from __future__ import annotations

import decimal
import tarfile


def mtime_ns_of(member: tarfile.TarInfo) -> int:
    """The entry's mtime in nanoseconds, from the PAX ``mtime`` text when there is one
    (``member.mtime`` is a float there, which rounds away nanoseconds)."""
    text = member.pax_headers.get("mtime")
    if text:
        try:
            return int(decimal.Decimal(text).scaleb(9))
        except decimal.InvalidOperation:
            pass
    return int(member.mtime) * 1_000_000_000
