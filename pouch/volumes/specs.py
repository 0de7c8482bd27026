"""Mount specifications -> ``BindMount`` / ``VolumeMount``, and the local driver's options. Pure.

The spellings are Docker's (``volume/mounts/linux_parser.go``, the local driver's
``validateOpts``):

- ``-v SRC:DST[:MODE]`` (``HostConfig.Binds``): an absolute SRC is a bind of a host path,
  anything else the name of a volume; ``-v DST`` alone is an anonymous volume. MODE is a
  comma list of ``ro``/``rw``, a propagation (binds only), ``nocopy`` (volumes only), ``idmap``
  (binds only, podman's: idmapped into the container's user namespace) and the
  SELinux/macOS flags Docker accepts and Pouch ignores (``z``, ``Z``, ``cached``...).
- ``HostConfig.Mounts`` entries of ``Type: volume`` (``--mount type=volume,...``): ``api/mounts_json.py``.
- ``Config.Volumes`` (``-v /path`` from the docker CLI) and the image's ``VOLUME``: anonymous.
- ``HostConfig.VolumesFrom``: ``CONTAINER[:ro|rw]``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument, NotFound
from pouch.models import BindMount, VolumeMount

#: Volume names the local driver accepts (Docker's ``volume.local`` rule).
VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_IGNORED_MODES = ("z", "Z", "consistent", "cached", "delegated")

#: The local driver's options (``docker volume create -o``) and which need which.
LOCAL_OPTIONS = ("type", "device", "o", "size")
_MANDATORY = {"device": ("type",), "type": ("device",), "o": ("device", "type")}

#: The label Docker (23+) puts on anonymous volumes.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"

DRIVER = "local"


def clean_path(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else path
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def mount_target(path: str, spec: str, field: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"{field}: invalid mount path {path!r} in {spec!r}: it must be absolute")
    cleaned = clean_path(path)
    if cleaned == "/":
        raise InvalidArgument(f"{field}: invalid mount path in {spec!r}: '/' can't be a mount destination")
    return cleaned


def validate_volume_name(name: str) -> str:
    if not VOLUME_NAME_RE.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )
    return name


def check_driver(driver: str) -> None:
    if driver not in ("", DRIVER):
        raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')


def validate_local_options(options: Mapping[str, str]) -> dict[str, str]:
    """``-o type=tmpfs -o device=tmpfs -o o=size=64m``: Docker's local driver's checks."""
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f'invalid option: "{key}"')
        if not isinstance(options[key], str):
            raise InvalidArgument(f'invalid option: "{key}" must be a string')
    if "size" in options:
        raise InvalidArgument("quota size requested but no quota support")
    for key, needed in _MANDATORY.items():
        if key in options:
            for other in needed:
                if other not in options:
                    raise InvalidArgument(f'missing required option: "{other}"')
    return dict(options)


def parse_bind_spec(spec: str, field: str = "HostConfig.Binds") -> BindMount | VolumeMount:
    """One ``-v``/``Binds`` entry: a bind of a host path, a named volume or an anonymous one."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(not p for p in parts[:2]):
        raise InvalidArgument(f"{field}: invalid volume specification: {spec!r}")
    if len(parts) == 1:
        return VolumeMount(name="", target=mount_target(parts[0], spec, field), anonymous=True)
    source, target = parts[0], mount_target(parts[1], spec, field)
    read_only: bool | None = None
    propagation = ""
    nocopy = idmap = False
    for opt in parts[2].split(",") if len(parts) == 3 else ():
        if opt in ("ro", "rw"):
            if read_only is not None:
                raise InvalidArgument(f"{field}: invalid mode in {spec!r}: ro/rw given twice")
            read_only = opt == "ro"
        elif opt in PROPAGATIONS:
            if propagation:
                raise InvalidArgument(f"{field}: invalid mode in {spec!r}: more than one propagation")
            propagation = opt
        elif opt == "nocopy":
            nocopy = True
        elif opt == "idmap":  # podman's: an idmapped bind (pouch/userns)
            idmap = True
        elif opt not in _IGNORED_MODES:
            raise InvalidArgument(f"{field}: invalid mode {opt!r} in {spec!r}")
    if source.startswith("/"):
        if nocopy:
            raise InvalidArgument(f"{field}: invalid mode in {spec!r}: nocopy is only for volumes")
        return BindMount(clean_path(source), target, bool(read_only), propagation, create_source=True, idmap=idmap)
    if idmap:
        raise InvalidArgument(f"{field}: invalid mode in {spec!r}: idmap is only for bind mounts")
    if propagation:
        raise InvalidArgument(f"{field}: invalid mode in {spec!r}: propagation is only for bind mounts")
    return VolumeMount(name=validate_volume_name(source), target=target, read_only=bool(read_only), nocopy=nocopy)


def split_binds(specs: tuple[str, ...] | list[str], field: str = "HostConfig.Binds"
                ) -> tuple[list[BindMount], list[VolumeMount]]:
    binds: list[BindMount] = []
    volumes: list[VolumeMount] = []
    for spec in specs:
        parsed = parse_bind_spec(spec, field)
        if isinstance(parsed, BindMount):
            binds.append(parsed)
        else:
            volumes.append(parsed)
    return binds, volumes


def anonymous_volumes(targets: Mapping[str, Any] | list[str] | tuple[str, ...], origin: str,
                      field: str = "Config.Volumes") -> list[VolumeMount]:
    """``Config.Volumes`` / the image's ``VOLUME``: one anonymous volume per path."""
    out = []
    for path in targets:
        if not isinstance(path, str):
            raise InvalidArgument(f"{field}: expected paths")
        out.append(VolumeMount(name="", target=mount_target(path, path, field), anonymous=True, origin=origin))
    return out


def parse_volumes_from(spec: str) -> tuple[str, bool | None]:
    """``CONTAINER[:ro|rw]`` -> (container, read-only or None to keep each mount's mode)."""
    name, sep, mode = spec.partition(":")
    if not name or (sep and mode not in ("ro", "rw")):
        raise InvalidArgument(f"HostConfig.VolumesFrom: invalid volumes-from specification {spec!r}: "
                              "expected CONTAINER[:ro|rw]")
    return name, (mode == "ro") if mode else None


def hide_password(text: str) -> str:
    """Mount errors must not show a ``password=`` from the volume's options (as Docker)."""
    return re.sub(r"password=[^,\s')\"]*", "password=********", text)
