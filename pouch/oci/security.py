"""``--security-opt`` values (docker run reference, "Security configuration").

Accepted, as ``key=value`` or Docker's deprecated ``key:value``:

- ``no-new-privileges`` (alone, or ``=true``/``=false``): ``process.noNewPrivileges``;
- ``seccomp=unconfined`` | ``seccomp=builtin`` | ``seccomp=/path/profile.json`` |
  ``seccomp={...}`` (the docker CLI sends the profile's JSON text itself);
- ``systempaths=unconfined``: no masked or read-only paths under /proc and /sys;
- ``apparmor=...`` and ``label=...``: accepted and ignored. This host runs neither
  AppArmor nor SELinux, so Pouch sets no ``apparmorProfile`` and no ``selinuxLabel``.

Anything else is an InvalidArgument, as with Docker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pouch.errors import InvalidArgument

SECCOMP_DEFAULT = "default"
SECCOMP_UNCONFINED = "unconfined"

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class SecurityOptions:
    """The parsed ``--security-opt`` list.

    ``seccomp`` is ``"default"``, ``"unconfined"``, or the user's value (a file path, or
    inline JSON when it starts with ``{``).
    """

    no_new_privileges: bool = False
    seccomp: str = SECCOMP_DEFAULT
    unconfined_systempaths: bool = False
    apparmor: str = ""  # accepted, ignored
    labels: tuple[str, ...] = ()  # accepted, ignored


def _split(opt: str) -> tuple[str, str | None]:
    """``key=value`` first; Docker still accepts the old ``key:value``."""
    if "=" in opt:
        key, _, value = opt.partition("=")
        return key, value
    if ":" in opt:
        key, _, value = opt.partition(":")
        return key, value
    return opt, None


def _parse_bool(opt: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid --security-opt {opt!r}: expected true or false")


def parse_security_opts(opts: Iterable[str]) -> SecurityOptions:
    """Parse every ``--security-opt``; later values of the same key win."""
    nnp = False
    seccomp = SECCOMP_DEFAULT
    systempaths = False
    apparmor = ""
    labels: list[str] = []
    for opt in opts:
        key, value = _split(opt.strip())
        if key == "no-new-privileges":
            nnp = True if value is None else _parse_bool(opt, value)
        elif value is None:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
        elif key == "seccomp":
            if not value:
                raise InvalidArgument(f"invalid --security-opt {opt!r}: seccomp needs a profile")
            seccomp = SECCOMP_DEFAULT if value == "builtin" else value
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt {opt!r}: only systempaths=unconfined is supported")
            systempaths = True
        elif key == "apparmor":
            apparmor = value
        elif key == "label":
            labels.append(value)
        else:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    return SecurityOptions(nnp, seccomp, systempaths, apparmor, tuple(labels))
