"""The rich part of the OCI runtime spec: pure, applied after ``oci.spec.generate_spec``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pouch.errors import InvalidArgument
from pouch.models import RichMode, RichOptions
from pouch.oci.user import resolve_in_root
from pouch.rich import layout

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RichSpecInput:
    rich: RichOptions
    dumb_init: str  # host path of the static dumb-init
    busybox: str  # host path of the static busybox
    host_rich_dir: str  # -> /.pouch/rich (read-only)
    host_run_dir: str  # -> /.pouch/run (read-write)
    host_init_log: str = ""  # -> /.pouch/init.log (read-write): the ops components' output (``pouch logs --init``)


def needs_launcher(rich: RichOptions) -> bool:
    """Hooks and ops components need the launcher; a bare ``--rich`` is dumb-init alone."""
    return bool(rich.prestart_hooks or rich.poststop_hooks or rich.init_script or rich.ops_dir)



def with_rich(spec: dict, inp: RichSpecInput) -> dict:
    """pid 1 and the mounts of a dumb-init mode rich container (``process.args`` must
    already hold the app's argv with an absolute executable)."""
    if inp.rich.mode != RichMode.DUMB_INIT:
        raise InvalidArgument(f"rich mode {inp.rich.mode.value} is not supported yet")
    app = list(spec["process"]["args"])
    mounts = [layout.bind_mount(inp.dumb_init, layout.IN_DUMB_INIT)]
    if needs_launcher(inp.rich):
        mounts += [
            layout.bind_mount(inp.busybox, layout.IN_BUSYBOX),
            layout.bind_mount(inp.host_rich_dir, layout.IN_RICH),
            layout.bind_mount(inp.host_run_dir, layout.IN_RUN, read_only=False),
        ]
        if inp.rich.ops_dir:
            mounts.append(layout.bind_mount(inp.rich.ops_dir, layout.IN_OPS))
            if inp.host_init_log:
                mounts.append(layout.bind_mount(inp.host_init_log, layout.IN_INIT_LOG, read_only=False))
        spec["process"]["args"] = [layout.IN_DUMB_INIT, "--", layout.IN_BUSYBOX, "sh", layout.IN_LAUNCHER, *app]
    else:
        spec["process"]["args"] = [layout.IN_DUMB_INIT, "--", *app]
    spec["mounts"] = list(spec.get("mounts", [])) + mounts
    return spec


def resolve_executable(rootfs: str, argv0: str, env: list[str], cwd: str = "/") -> str:
    """The absolute path of the app inside the container, looked up in the container's
    PATH as the runtime would (the launcher's busybox must not pick its own applets)."""
    if "/" in argv0:
        return argv0 if argv0.startswith("/") else os.path.normpath(os.path.join(cwd, argv0))
    path = next((e.split("=", 1)[1] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for directory in path.split(":"):
        if not directory.startswith("/"):
            continue
        candidate = os.path.join(directory, argv0)
        host = resolve_in_root(rootfs, candidate)
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return candidate
    raise InvalidArgument(f'exec: "{argv0}": executable file not found in $PATH')


def image_check(mode: RichMode, has_path) -> str:
    """Why the image cannot run ``mode`` ("" if it can); ``has_path(p)`` says whether the image has p."""
    if mode == RichMode.SBIN_INIT and not has_path("/sbin/init"):
        return "rich mode sbin-init needs /sbin/init in the image, and it has none"
    if mode == RichMode.SYSTEMD and not any(has_path(p) for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")):
        return "rich mode systemd needs systemd in the image (/lib/systemd/systemd), and it has none"
    return ""
