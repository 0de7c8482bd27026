"""Docker Engine API v1.41 JSON for images (``ImageSummary``, ``ImageInspect``).

Pure conversions from :class:`~pouch.images.record.ImageRecord`; names are
shown in familiar form (``busybox:latest``) as Docker does.
"""

from __future__ import annotations

import re

from pouch import reference
from pouch.errors import InvalidArgument
from pouch.images import lineage, oci
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
        "ParentId": lineage.parent_of(record.config),
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
        "Parent": lineage.parent_of(config),
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


# --- GET /images/json?filters= ------------------------------------------------------------

IMAGE_FILTERS = frozenset({"reference", "dangling", "label"})


def check_image_filters(filters: dict[str, list[str]]) -> None:
    """Raise InvalidArgument for what ``docker images --filter`` would reject."""
    for key, values in filters.items():
        if key not in IMAGE_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "dangling" and any(v not in ("true", "false", "1", "0") for v in values):
            raise InvalidArgument(f"invalid filter 'dangling={values[0]}'")


def _glob(pattern: str, text: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` do not cross ``/``; ``[...]`` classes."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else re.escape(body).replace("\\-", "-")) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), text) is not None


def reference_matches(pattern: str, familiar_tag: str) -> bool:
    """moby's ``reference.FamiliarMatch``: the pattern against ``repo:tag``, then against ``repo``."""
    if _glob(pattern, familiar_tag):
        return True
    repo = familiar_tag.rsplit(":", 1)[0] if ":" in familiar_tag.rsplit("/", 1)[-1] else familiar_tag
    return _glob(pattern, repo)


def image_matches(filters: dict[str, list[str]], summary: dict) -> bool:
    """Whether one ``ImageSummary`` passes ``filters`` (values of one key OR, keys AND)."""
    tags = [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"]
    if "reference" in filters and not any(reference_matches(p, t) for p in filters["reference"] for t in tags):
        return False
    if "dangling" in filters:
        want = filters["dangling"][0] in ("true", "1")
        if want != (not tags):
            return False
    labels = summary.get("Labels") or {}
    for want_label in filters.get("label", []):
        key, eq, value = want_label.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def filter_summaries(filters: dict[str, list[str]], summaries: list[dict]) -> list[dict]:
    """``GET /images/json`` filtering; raises InvalidArgument for an unknown filter."""
    check_image_filters(filters)
    if not filters:
        return summaries
    return [s for s in summaries if image_matches(filters, s)]
