"""Checks made at create that would otherwise fail only at start (issue 12 §3).

A container that cannot start is refused at create with a 400 naming the field, as
dockerd does: an unknown capability in ``CapAdd``/``CapDrop``, and a seccomp profile that
cannot be read or rendered (a missing file, bad JSON, an unknown action).
"""

from __future__ import annotations

from collections.abc import Iterable

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, SeccompMode
from pouch.oci.caps import normalize_capabilities
from pouch.oci.seccomp import resolve_seccomp


def check_security(opts: CreateOptions, host_capabilities: Iterable[str] | None) -> None:
    """InvalidArgument naming the field for capabilities and a seccomp profile no start could use."""
    for field, names in (("CapAdd", opts.cap_add), ("CapDrop", opts.cap_drop)):
        try:
            normalize_capabilities(names)
        except InvalidArgument as err:
            raise InvalidArgument(f"invalid {field}: {err.message}") from None
    if opts.security.seccomp == SeccompMode.PROFILE:
        try:
            resolve_seccomp(opts, host_capabilities=host_capabilities)
        except InvalidArgument as err:
            message = err.message if "seccomp" in err.message else f"seccomp profile: {err.message}"
            raise InvalidArgument(f"invalid SecurityOpt: {message}") from None
