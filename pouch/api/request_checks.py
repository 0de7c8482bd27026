"""Pure checks at the API's edge against hostile input (issue 12 §3).

``check_no_nul``: no string of a JSON body holds a NUL byte (no kernel interface or OCI
spec field takes one); ``public_message`` and ``path_redactor``: an error message never
tells where on the host pouchd keeps its files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from pouch.errors import InvalidArgument


def check_no_nul(doc: Any, where: str = "") -> None:
    """InvalidArgument naming the field (``HostConfig.Binds[0]``) of the first string, key
    or value, that holds a NUL byte; iterative, so any depth json.loads accepted is fine."""
    stack: list[tuple[Any, str]] = [(doc, where)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\0" in value:
                raise InvalidArgument(f"invalid {path or 'request body'}: a string holds a NUL byte")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\0" in key:
                    raise InvalidArgument(f"invalid {path or 'request body'}: a key holds a NUL byte")
                stack.append((item, child))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


def public_message(err: Exception) -> str:
    """What a client is told of an unexpected error: never a host path. An OSError names
    the last element of the file it was about (what was too long, missing...), not where
    it is (the full message is in the daemon's log)."""
    if isinstance(err, OSError) and err.strerror:
        name = os.path.basename(os.fsdecode(err.filename).rstrip("/")) if err.filename else ""
        if len(name) > 64:
            name = f"{name[:60]}... ({len(name)} characters)"
        return f"{err.strerror}: {name!r}" if name else err.strerror
    return str(err) or type(err).__name__


def path_redactor(private: tuple[str, ...]) -> Callable[[str], str]:
    """A function that shows each path below one of ``private`` (pouchd's --root and
    --exec-root) by its last element only: an error message never tells where on the host what
    is inside them. The roots themselves stay (the operator's own settings, named in advice)."""
    prefixes = [p.rstrip("/") for p in private if p.rstrip("/")]
    if not prefixes:
        return lambda message: message
    pattern = re.compile("(?:" + "|".join(re.escape(p) for p in prefixes) + r")/[^\s'\",:/][^\s'\",:]*")

    def redact(message: str) -> str:
        return pattern.sub(lambda m: os.path.basename(m.group(0).rstrip("/")) or "...", message)

    return redact
