"""Rich containers in a pod, chosen by annotations (pure).

A pod's or a container's annotations (the container's win, key by key) ask for what
``pouch run --rich`` and its flags ask for on the Docker API:

=================================  ==========================================================
``io.pouch.rich-mode``             ``dumb-init`` | ``sbin-init`` | ``systemd`` (``--rich-mode``)
``io.pouch.rich.init-script``      a path inside the container, run first (``--initscript``)
``io.pouch.rich.prestart-hooks``   shell commands, one a line, run before the app (``--prestart-hook``)
``io.pouch.rich.poststop-hooks``   shell commands, one a line, run after it (``--poststop-hook``)
``io.pouch.rich.ops-dir``          a host directory shown read-only at /.pouch/ops (``--ops-dir``)
``io.pouch.lxcfs``                 ``true``: /proc files with the container's limits (``--enable-lxcfs``)
=================================  ==========================================================

A rich container's init must be its PID 1, so it gets a PID namespace of its own even in a
pod that shares one (unless the pod uses the host's).
"""

from __future__ import annotations

from collections.abc import Mapping

from pouch.errors import InvalidArgument
from pouch.models import RichMode, RichOptions

RICH_MODE = "io.pouch.rich-mode"
INIT_SCRIPT = "io.pouch.rich.init-script"
PRESTART_HOOKS = "io.pouch.rich.prestart-hooks"
POSTSTOP_HOOKS = "io.pouch.rich.poststop-hooks"
OPS_DIR = "io.pouch.rich.ops-dir"
LXCFS = "io.pouch.lxcfs"
_RICH_KEYS = (INIT_SCRIPT, PRESTART_HOOKS, POSTSTOP_HOOKS, OPS_DIR)


def merged(pod: Mapping[str, str], container: Mapping[str, str]) -> dict[str, str]:
    """The annotations that apply to a container: the pod's, then its own over them."""
    return {**pod, **container}


def rich_options(annotations: Mapping[str, str]) -> RichOptions | None:
    """The rich options asked for; None for a plain container. A rich option without a mode
    is dumb-init's, as ``pouch run --prestart-hook`` without ``--rich-mode``."""
    mode = annotations.get(RICH_MODE, "")
    if not mode and not any(annotations.get(k) for k in _RICH_KEYS):
        return None
    try:
        chosen = RichMode(mode or RichMode.DUMB_INIT)
    except ValueError:
        modes = ", ".join(m.value for m in RichMode)
        raise InvalidArgument(f"annotation {RICH_MODE}: unknown rich mode {mode!r} ({modes})") from None
    return RichOptions(mode=chosen, init_script=annotations.get(INIT_SCRIPT, ""),
                       prestart_hooks=_lines(annotations.get(PRESTART_HOOKS, "")),
                       poststop_hooks=_lines(annotations.get(POSTSTOP_HOOKS, "")),
                       ops_dir=annotations.get(OPS_DIR, ""))


def lxcfs_enabled(annotations: Mapping[str, str]) -> bool:
    value = annotations.get(LXCFS, "").lower()
    if value not in ("", "true", "false"):
        raise InvalidArgument(f"annotation {LXCFS}: true or false, not {value!r}")
    return value == "true"


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())
