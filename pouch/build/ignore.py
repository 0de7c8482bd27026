"""``.dockerignore`` (https://docs.docker.com/build/concepts/context/#dockerignore-files), pure.

Patterns are Go ``filepath.Match`` globs plus ``**`` (any number of directories),
cleaned and made relative to the context root; ``!pattern`` re-includes; the last
matching pattern wins. A path is excluded when a pattern matches it or one of its
parent directories (as moby's ``patternmatcher`` does).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    text: str
    exclude: bool
    regex: re.Pattern


def _glob_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def parse_dockerignore(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        if not exclude:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/") or "."
        if line == ".":
            continue
        patterns.append(Pattern(line, exclude, _glob_regex(line)))
    return patterns


def is_excluded(path: str, patterns: list[Pattern]) -> bool:
    """Whether ``path`` (relative to the context, ``/`` separated) is left out."""
    path = posixpath.normpath(path).lstrip("/")
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        if any(pattern.regex.match(c) for c in candidates):
            excluded = pattern.exclude
    return excluded


def always_kept(path: str) -> bool:
    """The Dockerfile and .dockerignore always reach the daemon (docker CLI does the same)."""
    return path in (".dockerignore",)
