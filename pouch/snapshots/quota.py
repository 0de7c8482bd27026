"""Disk quotas of containers' writable layers: the pure part (sizes, ids, records, messages).

``pouch run --disk-quota 10g`` (PouchContainer's flag, also ``/=10g``) and ``docker run
--storage-opt size=10g`` limit what a container may write into its overlay upper dir; a
write past the limit fails with EDQUOT ("Disk quota exceeded"). The kernel enforces it:

- **project quota** (``kind`` "project") on ext4 or xfs mounted with ``prjquota``: the
  container's rw directory (upper and work) gets a project id of its own, allocated from
  :data:`PROJECT_ID_BASE` up and never shared by two containers, and that project a block
  limit (``quota_kernel.set_project``, ``set_project_limit``);
- **btrfs qgroup** (``kind`` "btrfs"), as docker's btrfs driver: the rw directory is a
  subvolume whose qgroup ``0/<subvolume id>`` gets a referenced-bytes limit.

What a container got is recorded in ``<root>/containers/<id>/disk-quota.json``
(:class:`QuotaRecord`): the ids in use are read back from those files, and ``rm`` clears
the limit it names. The IO is in ``quota_manager.py`` and ``quota_kernel.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from pouch.errors import InvalidArgument

PROJECT_ID_BASE = 100000  # below it: ids an administrator may use by hand
PROJECT_ID_MAX = 2**32 - 2  # 2^32-1 is the kernel's "no id"
RECORD_NAME = "disk-quota.json"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str, field: str) -> int:
    """go-units ``RAMInBytes`` (what docker's ``--storage-opt size=`` and PouchContainer's
    ``--disk-quota`` take): ``10g``, ``10G``, ``10GB``, ``10GiB``, ``512m``, ``1048576``; binary units."""
    match = _SIZE_RE.match(text or "")
    if not match or (match.group(3).lower() == "i" and not match.group(2)):
        raise InvalidArgument(f"{field}: invalid size {text!r} (e.g. 10g, 512m)")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise InvalidArgument(f"{field}: the size must be more than 0, got {text!r}")
    return size


def writable_layer_size(disk_quota: dict[str, str], storage_opt: dict[str, str]) -> str:
    """The writable layer's quota as given, from PouchContainer's ``DiskQuota`` map
    (``{"/": "10g"}``; ``""`` as a key is the writable layer too) and docker's
    ``StorageOpt`` (``{"size": "10g"}``); "" for none. Every size is validated."""
    size = ""
    for path, value in disk_quota.items():
        if path not in ("/", ""):
            raise InvalidArgument(
                f"HostConfig.DiskQuota: a quota on {path!r} is not supported: only the container's "
                "writable layer takes one (--disk-quota SIZE or /=SIZE)")
        parse_size(value, "HostConfig.DiskQuota")
        size = value.strip()
    for key, value in storage_opt.items():
        if key.lower() != "size":
            raise InvalidArgument(f"HostConfig.StorageOpt: unknown option {key!r}: only size is supported")
        parse_size(value, "HostConfig.StorageOpt.size")
        if size and parse_size(size, "HostConfig.DiskQuota") != parse_size(value, "HostConfig.StorageOpt.size"):
            raise InvalidArgument(
                f"HostConfig.DiskQuota ({size}) and HostConfig.StorageOpt.size ({value}) disagree: give one")
        size = size or value.strip()
    return size


def next_project_id(in_use: Iterable[int], base: int = PROJECT_ID_BASE) -> int:
    """The smallest project id from ``base`` up that no container holds."""
    taken = set(in_use)
    candidate = base
    while candidate in taken:
        candidate += 1
    if candidate > PROJECT_ID_MAX:
        raise InvalidArgument("no free disk quota project id is left")
    return candidate


@dataclass(frozen=True)
class QuotaRecord:
    """What a container's writable layer got: ``kind`` "project" (``id`` its project id) or
    "btrfs" (``id`` its subvolume, i.e. the qgroup ``0/id``), and the limit in bytes."""

    kind: str
    id: int
    limit: int
    size: str = ""  # as the user gave it

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> QuotaRecord:
        data = json.loads(text)
        return cls(str(data["kind"]), int(data["id"]), int(data["limit"]), str(data.get("size", "")))


def no_quota_message(root: str, fs: str, detail: str = "") -> str:
    """Why ``--disk-quota`` cannot be honoured on the daemon's root."""
    hint = {
        "ext4": "mount it with prjquota (mkfs.ext4 -O quota,project; a kernel with CONFIG_QFMT_V2)",
        "xfs": "mount it with prjquota (a kernel with CONFIG_XFS_QUOTA)",
        "btrfs": f"enable quotas: btrfs quota enable {root}, or start pouchd with --disk-quota",
    }.get(fs, "use ext4 or xfs mounted with prjquota, or btrfs")
    return (f"pouchd --root {root} is on a filesystem without project quotas ({fs}"
            + (f": {detail}" if detail else "") + f"): {hint}")
