"""Docker Engine API v1.41 JSON for images (``ImageSummary``, ``ImageInspect``).

Pure conversions from :class:`~pouch.images.record.ImageRecord`; names are
shown in familiar form (``busybox:latest``) as Docker does.
"""

from __future__ import annotations

from pouch import reference
from pouch.images import oci
from pouch.images.record import ImageRecord

# Docker's container Config with every field present (what `docker image inspect` shows).
_EMPTY_CONFIG: dict = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def _familiar(names: tuple[str, ...]) -> list[str]:
    return [reference.familiar(n) for n in names]


def container_config(oci_config: dict | None) -> dict:
    """The image config's ``config`` member in Docker's full container-config shape."""
    out = dict(_EMPTY_CONFIG)
    out.update(oci_config or {})
    return out


def image_summary(record: ImageRecord, containers: int = -1) -> dict:
    """One entry of ``GET /images/json``."""
    labels = (record.config.get("config") or {}).get("Labels") or {}
    return {
        "Id": record.id,
        "ParentId": "",
        "RepoTags": _familiar(record.repo_tags),
        "RepoDigests": _familiar(record.repo_digests),
        "Created": oci.rfc3339_to_unix(record.created),
        "Size": record.size,
        "VirtualSize": record.size,
        "SharedSize": -1,
        "Labels": dict(labels),
        "Containers": containers,
    }


def graph_driver(record: ImageRecord) -> dict:
    data: dict[str, str] = {}
    if record.layer_dirs:
        data["UpperDir"] = record.layer_dirs[0]
        if len(record.layer_dirs) > 1:
            data["LowerDir"] = ":".join(record.layer_dirs[1:])
    return {"Name": "overlay2", "Data": data}


def image_inspect(record: ImageRecord) -> dict:
    """``GET /images/{name}/json``."""
    config = record.config
    return {
        "Id": record.id,
        "RepoTags": _familiar(record.repo_tags),
        "RepoDigests": _familiar(record.repo_digests),
        "Parent": "",
        "Comment": config.get("comment", ""),
        "Created": record.created,
        "Container": config.get("container", ""),
        "ContainerConfig": container_config(config.get("container_config")),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": container_config(config.get("config")),
        "Architecture": record.architecture,
        **({"Variant": config["variant"]} if config.get("variant") else {}),
        "Os": record.os,
        "Size": record.size,
        "VirtualSize": record.size,
        "GraphDriver": graph_driver(record),
        "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
        "Metadata": {"LastTagTime": oci.ZERO_TIME},
    }
