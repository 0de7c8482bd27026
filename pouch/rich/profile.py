"""The container's environment for login sessions: /etc/profile.d/pouch-env.sh.

A login shell (``pouch exec c sh -l``, an ssh session into a rich container)
starts with a clean environment and reads /etc/profile, which on Debian sources
/etc/profile.d/*.sh. Values are single-quoted so that ``=``, quotes, ``$`` and
spaces survive.
"""

from __future__ import annotations

from collections.abc import Sequence

PROFILE_PATH = "/etc/profile.d/pouch-env.sh"
SKIPPED = ("HOSTNAME", "HOME", "TERM", "container_uuid")  # the session's own, or pid 1's


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def profile_env(env: Sequence[str]) -> str:
    lines = ["# Written by pouchd: the container's environment, for login shells and ssh sessions."]
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or key in SKIPPED or not key.replace("_", "a").isalnum() or key[0].isdigit():
            continue
        lines.append(f"export {key}={shell_quote(value)}")
    return "\n".join(lines) + "\n"
