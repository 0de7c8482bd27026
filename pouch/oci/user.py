"""The user a container's process runs as: Docker's ``-u``/``--user`` forms resolved
against the image's own ``/etc/passwd`` and ``/etc/group``.

Rules follow runc's ``libcontainer/user.GetExecUser`` (which dockerd uses):

- ``""``: uid 0, looked up in passwd by uid;
- ``name`` or ``uid``: a number is always a uid (a uid missing from passwd is fine, with
  gid 0); a name must exist in passwd;
- ``user:group``: the group is a gid (number, always accepted) or a name from /etc/group;
- supplementary groups: the gids of the groups that list the user's name as a member,
  only in the implicit form (no ``:group`` given), in file order.

:func:`resolve_user` is pure (file contents in, ids out); :func:`read_user_files` is the
IO edge that reads the two files inside a rootfs without following symlinks out of it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from pouch.errors import InvalidArgument

MAX_ID = 2**31 - 1  # runc's user.maxID


@dataclass(frozen=True)
class ResolvedUser:
    """``process.user`` of the OCI runtime spec (config.md#user)."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()

    def to_oci(self) -> dict:
        out: dict = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            out["additionalGids"] = list(self.additional_gids)
        return out


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str = ""


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...] = ()


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _records(text: str, min_fields: int) -> Iterator[list[str]]:
    """The colon-separated fields of each line with at least ``min_fields``; blank lines and comments skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) >= min_fields:
            yield fields


def parse_passwd(text: str) -> list[PasswdEntry]:
    """passwd(5) lines ``name:password:uid:gid:gecos:home:shell``; malformed lines are skipped."""
    entries = []
    for fields in _records(text, 4):
        uid, gid = _int_or_none(fields[2]), _int_or_none(fields[3])
        if uid is None or gid is None:
            continue
        entries.append(PasswdEntry(fields[0], uid, gid, fields[5] if len(fields) > 5 else ""))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """group(5) lines ``name:password:gid:member,member``; malformed lines are skipped."""
    entries = []
    for fields in _records(text, 3):
        gid = _int_or_none(fields[2])
        if gid is None:
            continue
        members = tuple(m.strip() for m in fields[3].split(",") if m.strip()) if len(fields) > 3 else ()
        entries.append(GroupEntry(fields[0], gid, members))
    return entries


def _check_range(value: int) -> int:
    if not 0 <= value <= MAX_ID:
        raise InvalidArgument(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def resolve_user(spec: str, passwd: str, group: str) -> ResolvedUser:
    """Resolve a ``--user`` value against the contents of the image's passwd and group files.

    Raises InvalidArgument with Docker's wording when a name does not exist:
    ``unable to find user NAME: no matching entries in passwd file``.
    """
    user_arg, _, group_arg = spec.strip().partition(":")
    uid_arg = _int_or_none(user_arg) if user_arg else 0
    if uid_arg is not None:
        _check_range(uid_arg)

    users = parse_passwd(passwd)
    if uid_arg is not None:
        match = next((u for u in users if u.uid == uid_arg), None)
    else:
        match = next((u for u in users if u.name == user_arg), None)
    if match is None and uid_arg is None:
        raise InvalidArgument(f"unable to find user {user_arg}: no matching entries in passwd file")

    uid = match.uid if match else uid_arg or 0  # no match: uid_arg is a number (a name raised above)
    gid = match.gid if match else 0
    groups = parse_group(group)

    if group_arg:
        gid_arg = _int_or_none(group_arg)
        if gid_arg is not None:
            return ResolvedUser(uid, _check_range(gid_arg), ())
        found = next((g for g in groups if g.name == group_arg), None)
        if found is None:
            raise InvalidArgument(f"unable to find group {group_arg}: no matching entries in group file")
        return ResolvedUser(uid, found.gid, ())

    additional: list[int] = []
    if match is not None:
        for g in groups:
            if match.name in g.members and g.gid not in additional:
                additional.append(g.gid)
    return ResolvedUser(uid, gid, tuple(additional))


# --- IO edge ---------------------------------------------------------------------------

_MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str) -> str:
    """The host path of container path ``path`` inside ``root``, following symlinks the
    way the container would see them: absolute link targets are taken relative to
    ``root`` and ``..`` never climbs above it, so the result can't escape the rootfs
    (like Go's ``securejoin.SecureJoin``). Components that don't exist are kept as is.
    """
    root = os.path.realpath(root)
    pending = [p for p in path.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            links += 1
            if links > _MAX_SYMLINKS:
                raise InvalidArgument(f"too many levels of symbolic links resolving {path} in the rootfs")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _read_in_root(root: str, path: str) -> str:
    host_path = resolve_in_root(root, path)
    try:
        # O_NOFOLLOW: if the last component was swapped for a symlink since we resolved
        # it, fail (ELOOP) rather than follow it out of the rootfs. O_NONBLOCK: a FIFO
        # planted at /etc/passwd must not hang the daemon.
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return ""
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return f.read().decode("utf-8", errors="replace")


def read_user_files(rootfs: str) -> tuple[str, str]:
    """The text of ``/etc/passwd`` and ``/etc/group`` inside ``rootfs`` ("" for a missing
    file), resolved without leaving the rootfs even through symlinks."""
    return _read_in_root(rootfs, "/etc/passwd"), _read_in_root(rootfs, "/etc/group")
