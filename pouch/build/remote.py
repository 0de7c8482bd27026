"""ADD from an http(s) URL: the file downloaded as Docker's builder does it.

The file is named after the URL's last path segment, written 0600 (Docker's
mode for downloads), its size checked against ``Content-Length``, its mtime
taken from ``Last-Modified`` when the server sends one; it is never unpacked.
"""

from __future__ import annotations

import email.utils
import http.client
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request

from pouch.errors import InvalidArgument

CHUNK = 1024 * 1024
TIMEOUT = 60.0


def url_filename(url: str) -> str:
    """The name a downloaded file gets (pure); refused when the URL names none."""
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    if name in ("", ".", ".."):
        raise InvalidArgument(f"cannot determine a file name from the URL {url!r}: name the destination file")
    return name


def last_modified(header: str | None) -> float | None:
    """``Last-Modified`` as a Unix time (pure); None when absent or unreadable."""
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None


def download(url: str, directory: str, timeout: float = TIMEOUT) -> str:
    """Fetch ``url`` into ``directory``; returns the file's path."""
    path = os.path.join(directory, url_filename(url))
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "pouch-build"}),
                                          timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise InvalidArgument(f"ADD {url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InvalidArgument(f"ADD {url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        expected = response.headers.get("Content-Length")
        received = 0
        try:
            with open(path, "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise InvalidArgument(f"ADD {url}: download failed after {received} bytes: {exc!r}") from None
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise InvalidArgument(f"ADD {url}: truncated download: {received} of {expected} bytes")
        mtime = last_modified(response.headers.get("Last-Modified"))
    os.chmod(path, 0o600)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
