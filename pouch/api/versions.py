"""What the Engine API version a client asks for changes in Pouch's answers.

Pouch serves API ``MIN_API_VERSION``..``API_VERSION`` (1.24..1.45): the newest the docker CLI 28
negotiates down to, the oldest Docker still accepts. The route handlers build one answer, the
newest shape, plus what older versions had; these pure functions take that answer and the
request's version and return the shape that version documents (moby ``docs/api/version-history.md``):

* 1.42: ``GET /system/df`` build-cache records lose ``Parent`` and get ``Parents``;
  ``HostConfig.ConsoleSize`` of a create is honoured (the tty starts with that size).
* 1.44: ``VirtualSize`` leaves ``GET /images/json``, ``GET /images/{name}/json`` and
  ``GET /system/df``; a container's endpoints on user-defined networks get ``DNSNames``
  (its name, aliases, short id and hostname).
* 1.45: ``GET /images/{name}/json`` loses ``Container`` and ``ContainerConfig``; a container's
  ``Aliases`` are only the ones it was created or connected with (no short id).

No input is mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument


def parse(version: str) -> tuple[int, ...]:
    """``"1.45"`` -> ``(1, 45)``: versions compare as numbers, ``1.9 < 1.10``."""
    return tuple(int(part) for part in version.split("."))


def at_least(version: str, minimum: str) -> bool:
    return parse(version) >= parse(minimum)


def _without(doc: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def image_summary_for(summary: Mapping[str, Any], version: str) -> dict[str, Any]:
    """One item of ``GET /images/json`` (and of ``/system/df``'s ``Images``)."""
    return _without(summary, "VirtualSize") if at_least(version, "1.44") else dict(summary)


def image_inspect_for(doc: Mapping[str, Any], version: str) -> dict[str, Any]:
    """``GET /images/{name}/json``."""
    out = image_summary_for(doc, version)
    return _without(out, "Container", "ContainerConfig") if at_least(version, "1.45") else out


def build_cache_for(record: Mapping[str, Any], version: str) -> dict[str, Any]:
    """One item of ``/system/df``'s ``BuildCache``: ``Parent`` (a single id) became ``Parents`` in 1.42."""
    if not at_least(version, "1.42"):
        return dict(record)
    parent = record.get("Parent") or ""
    return {**_without(record, "Parent"), "Parents": [parent] if parent else []}


def dns_names(name: str, aliases: list[str], short_id: str, hostname: str) -> list[str]:
    """moby ``buildEndpointDNSNames``: the names a container answers to on a user-defined network."""
    names = [n for n in (name, *aliases, short_id, hostname) if n]
    return list(dict.fromkeys(names))


def container_inspect_for(doc: Mapping[str, Any], version: str) -> dict[str, Any]:
    """``GET /containers/{id}/json``: ``DNSNames`` from 1.44, ``Aliases`` without the short id from 1.45."""
    if not at_least(version, "1.44"):
        return dict(doc)
    settings = doc.get("NetworkSettings") or {}
    networks = settings.get("Networks") or {}
    short_id = str(doc.get("Id", ""))[:12]
    name = str(doc.get("Name", "")).lstrip("/")
    hostname = str((doc.get("Config") or {}).get("Hostname", ""))
    out_networks = {}
    for net, endpoint in networks.items():
        aliases = endpoint.get("Aliases")
        given = [a for a in aliases or [] if a != short_id]
        user_defined = net not in ("bridge", "host", "none")
        updated = dict(endpoint, DNSNames=dns_names(name, given, short_id, hostname) if user_defined else None)
        if at_least(version, "1.45") and aliases is not None:
            updated["Aliases"] = given or None
        out_networks[net] = updated
    return dict(doc, NetworkSettings=dict(settings, Networks=out_networks)) if networks else dict(doc)


def console_size_for(body: Mapping[str, Any], version: str) -> tuple[int, int]:
    """A create body's ``HostConfig.ConsoleSize`` ``[height, width]``; ignored before 1.42, as dockerd does."""
    if not at_least(version, "1.42"):
        return (0, 0)
    size = (body.get("HostConfig") or {}).get("ConsoleSize")
    if size is None:
        return (0, 0)
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size)):
        raise InvalidArgument("HostConfig.ConsoleSize: expected [height, width], two unsigned integers")
    return (size[0], size[1])
