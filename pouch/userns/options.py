"""``--userns`` at create: the daemon's default applied, what cannot go with it refused."""

from __future__ import annotations

import dataclasses

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions
from pouch.userns.ranges import parse_userns_mode, wants_userns


def resolve_userns(opts: CreateOptions, daemon_default: bool) -> CreateOptions:
    """``opts`` with ``userns_mode`` "auto" when the container gets a range (``--userns=auto``,
    or none given under ``pouchd --userns-remap default``), recorded so a later daemon without
    the flag still starts it in its namespace. ``--privileged`` and ``--network host`` need the
    host's user namespace (``--userns=host``), as with Docker's remapping."""
    mode = parse_userns_mode(opts.userns_mode)
    if not wants_userns(mode, daemon_default):
        if any(b.idmap for b in opts.binds):
            raise InvalidArgument("an idmap bind needs a user namespace of the container's own (--userns=auto)")
        return opts
    if opts.privileged:
        raise InvalidArgument("--privileged needs the host's user namespace: add --userns=host")
    if opts.network.is_host:
        raise InvalidArgument("--network host needs the host's user namespace: add --userns=host")
    if opts.network.joins_container:  # X's netns belongs to X's user namespace (or the host's)
        raise InvalidArgument("--network container:X is not supported with a user namespace of its own yet")
    return dataclasses.replace(opts, userns_mode="auto")
