"""Names on user-defined networks: each container's /etc/hosts lists its peers.

Docker answers container names, aliases and short ids from an embedded DNS server on
user-defined networks. Pouch keeps, instead, a marked block at the end of the /etc/hosts
of every running container on such a network: one line per container that shares a
network with it (``IP name alias... short-id``). The block is recomputed from the
metadata store whenever containers start, stop, connect or disconnect, and at daemon
start, so it survives containers coming and going and a pouchd restart.

The hosts file is bind-mounted into the container, so it is rewritten in place (same
inode), never replaced. The default bridge keeps Docker's behaviour: no names.

``peer_lines``/``splice`` are pure; :func:`rewrite_in_place` is the IO.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

BEGIN = "# pouch: containers on the same user-defined networks (kept up to date by pouchd)"
END = "# pouch: end of network names"


@dataclass(frozen=True)
class Member:
    """One running container's endpoint on one user-defined network."""

    container_id: str
    name: str
    network_id: str
    ip_address: str
    aliases: tuple[str, ...] = ()


def peer_lines(networks: Iterable[str], members: Sequence[Member]) -> list[str]:
    """The hosts lines a container on ``networks`` (ids) gets: every member of those networks,
    by name, aliases and short id, in a stable order."""
    wanted = set(networks)
    lines = []
    seen: set[tuple[str, str]] = set()
    for m in sorted(members, key=lambda m: (m.name, m.network_id)):
        if m.network_id not in wanted or not m.ip_address:
            continue
        names = [m.name, *[a for a in m.aliases if a != m.name], m.container_id[:12]]
        names = list(dict.fromkeys(names))
        key = (m.ip_address, " ".join(names))
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"{m.ip_address}\t{' '.join(names)}")
    return lines


def splice(content: str, lines: Sequence[str]) -> str:
    """``content`` with its pouch block replaced by ``lines`` (dropped when there are none)."""
    kept: list[str] = []
    inside = False
    for line in content.splitlines():
        if line == BEGIN:
            inside = True
            continue
        if inside:
            if line == END:
                inside = False
            continue
        kept.append(line)
    if lines:
        kept += [BEGIN, *lines, END]
    return "\n".join(kept) + "\n" if kept else ""


def rewrite_in_place(path: str, lines: Sequence[str]) -> bool:
    """Splice ``lines`` into the hosts file ``path`` keeping its inode; True if it changed."""
    try:
        with open(path, "r+", encoding="utf-8") as f:
            old = f.read()
            new = splice(old, lines)
            if new == old:
                return False
            f.seek(0)
            f.write(new)
            f.truncate()
            return True
    except FileNotFoundError:
        return False
