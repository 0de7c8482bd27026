"""The user namespace part of the OCI spec (config-linux.md#user-namespace-mappings).

A pure option applied after :func:`pouch.oci.spec.generate_spec` for a container with an id
range: a ``user`` namespace and its uid/gid mappings. runc then creates the namespace and
writes the maps; the rootfs is already on idmapped layers (:mod:`pouch.userns.rootfs`).
``net.ipv4.ping_group_range`` (Docker's "0 2147483647") is cut to the namespace's gids.

``path``: a user namespace to join (pouchd made it, with the container's network namespace
in it: :mod:`pouch.userns.netns`); the mappings are given all the same (runc wants them).
"""

from __future__ import annotations

import copy


def with_user_namespace(spec: dict, base: int, size: int, path: str = "") -> dict:
    """``spec`` with a user namespace mapping container ids ``0..size-1`` to host ``base..``."""
    out = copy.deepcopy(spec)
    linux = out.setdefault("linux", {})
    namespaces = [ns for ns in linux.get("namespaces", []) if ns.get("type") != "user"]
    linux["namespaces"] = [*namespaces, {"type": "user", "path": path} if path else {"type": "user"}]
    mapping = [{"containerID": 0, "hostID": base, "size": size}]
    linux["uidMappings"] = mapping
    linux["gidMappings"] = copy.deepcopy(mapping)
    if "net.ipv4.ping_group_range" in linux.get("sysctl", {}):  # gids must exist in the namespace
        linux["sysctl"]["net.ipv4.ping_group_range"] = f"0 {size - 1}"
    return out


def joins_netns(spec: dict) -> str:
    """The path of the network namespace the container joins ("" for none, or its own)."""
    for ns in spec.get("linux", {}).get("namespaces", []):
        if ns.get("type") == "network":
            return str(ns.get("path") or "")
    return ""
