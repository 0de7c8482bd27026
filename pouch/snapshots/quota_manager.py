"""Disk quotas of containers' writable layers: the IO (see ``quota.py`` for the design).

``DiskQuotas.check`` (create, before anything is made: a 400 naming the cause when the
root's filesystem keeps no quotas), ``apply`` (create: the rw directory made with its
quota, before the snapshotter fills it with upper/ and work/), ``release`` (rm: the
limit cleared, before the rw directory is deleted), ``enable`` (``pouchd --disk-quota``).
"""

from __future__ import annotations

import errno
import logging
import os
import threading

from pouch.config import DaemonConfig
from pouch.errors import InvalidArgument, PouchError
from pouch.snapshots import quota_kernel as kernel
from pouch.snapshots.quota import RECORD_NAME, QuotaRecord, next_project_id, no_quota_message, parse_size

log = logging.getLogger(__name__)

PROJECT, BTRFS = "project", "btrfs"


class DiskQuotas:
    def __init__(self, config: DaemonConfig, images) -> None:
        self.root = config.root
        self.fs_path = config.snapshots_dir  # the rw layers live below it
        self.containers_root = os.path.dirname(config.container_dir("x"))
        self.images = images  # ImageService: where a container's rw directory is
        self._lock = threading.Lock()  # project id allocation
        self._kind: str | None = None  # PROJECT or BTRFS, once seen working

    # ------------------------------------------------------------------ support
    def kind(self) -> str:
        """How quotas are kept on the root's filesystem; InvalidArgument (400) naming why not."""
        if self._kind:
            return self._kind
        os.makedirs(self.fs_path, mode=0o711, exist_ok=True)
        magic = kernel.fs_type(self.fs_path)
        fs = kernel.fs_name(magic)
        if magic == kernel.BTRFS_SUPER_MAGIC:
            if not kernel.btrfs_quota_enabled(self.fs_path):
                raise InvalidArgument(no_quota_message(self.root, fs, "quotas are off"))
            self._kind = BTRFS
        elif magic in (kernel.EXT4_SUPER_MAGIC, kernel.XFS_SUPER_MAGIC):
            try:
                kernel.project_quota_enabled(self.fs_path)
            except OSError as err:
                why = "not mounted with prjquota" if err.errno == errno.ESRCH else os.strerror(err.errno or 0)
                raise InvalidArgument(no_quota_message(self.root, fs, why)) from None
            self._kind = PROJECT
        else:
            raise InvalidArgument(no_quota_message(self.root, fs))
        return self._kind

    def enable(self) -> str:
        """``pouchd --disk-quota``: quotas must work on the root (btrfs: pouchd turns them on,
        as docker's btrfs driver does); PouchError naming the cause otherwise."""
        os.makedirs(self.fs_path, mode=0o711, exist_ok=True)
        if kernel.fs_type(self.fs_path) == kernel.BTRFS_SUPER_MAGIC and not kernel.btrfs_quota_enabled(self.fs_path):
            try:
                kernel.btrfs_enable_quota(self.fs_path)
            except OSError as err:
                raise PouchError(f"enabling btrfs quotas on {self.root}: {err}") from None
            log.info("enabled btrfs quotas on %s", self.root)
        return self.kind()

    def check(self, size: str) -> int:
        """The limit in bytes of ``size``, once the root is known to keep quotas (400s otherwise)."""
        limit = parse_size(size, "--disk-quota")
        self.kind()
        return limit

    # ---------------------------------------------------------------- containers
    def _record_path(self, container_id: str) -> str:
        return os.path.join(self.containers_root, container_id, RECORD_NAME)

    def record(self, container_id: str) -> QuotaRecord | None:
        try:
            with open(self._record_path(container_id), encoding="utf-8") as f:
                return QuotaRecord.from_json(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("container %s: unreadable disk quota record: %s", container_id[:12], err)
            return None

    def _write_record(self, container_id: str, record: QuotaRecord) -> None:
        path = self._record_path(container_id)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(record.to_json())
        os.replace(path + ".tmp", path)

    def _project_ids_in_use(self) -> list[int]:
        ids = []
        for name in os.listdir(self.containers_root) if os.path.isdir(self.containers_root) else ():
            record = self.record(name)
            if record and record.kind == PROJECT:
                ids.append(record.id)
        return ids

    def apply(self, container_id: str, size: str) -> QuotaRecord:
        """Make the container's rw directory with its quota. The container's directory must
        exist (the record goes there); on failure, ``release`` then the rw directory's
        removal undo what was made."""
        limit = self.check(size)
        kind = self.kind()
        base = os.path.dirname(self.images.rw_dirs(container_id).upper)
        os.makedirs(os.path.dirname(base), mode=0o711, exist_ok=True)
        try:
            if kind == BTRFS:
                record = QuotaRecord(BTRFS, kernel.btrfs_create_subvolume(base), limit, size)
                self._write_record(container_id, record)
                kernel.btrfs_limit(self.fs_path, record.id, limit)
            else:
                with self._lock:  # the record holds the id from here on
                    record = QuotaRecord(PROJECT, next_project_id(self._project_ids_in_use()), limit, size)
                    self._write_record(container_id, record)
                os.makedirs(base, mode=0o711, exist_ok=True)
                kernel.set_project(base, record.id)
                kernel.set_project_limit(self.fs_path, record.id, limit)
        except OSError as err:
            raise PouchError(f"setting the disk quota of container {container_id[:12]}: {err}") from None
        log.info("container %s: disk quota %s (%s %d)", container_id[:12], size, record.kind, record.id)
        return record

    def release(self, container_id: str) -> None:
        """Clear the limit of the container's quota, if it has one (before its rw directory goes;
        the record, in the container's directory, holds a project id until that is deleted)."""
        record = self.record(container_id)
        if record is None:
            return
        try:
            if record.kind == BTRFS:
                kernel.btrfs_limit(self.fs_path, record.id, None)
            else:
                kernel.set_project_limit(self.fs_path, record.id, 0)
        except OSError as err:
            log.warning("container %s: clearing its disk quota (%s %d): %s",
                        container_id[:12], record.kind, record.id, err)
