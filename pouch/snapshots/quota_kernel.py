"""The kernel's quota interfaces, through ioctl(2) and syscall(2) — no external binary.

Project quotas (ext4, xfs):
    ``FS_IOC_FSGETXATTR``/``FS_IOC_FSSETXATTR`` give a directory a project id and the
    ``FS_XFLAG_PROJINHERIT`` flag (what it creates inherits both); ``quotactl_fd(2)``
    (Linux 5.14) with ``Q_GETINFO``/``Q_SETQUOTA`` on ``PRJQUOTA`` tells whether the
    filesystem enforces project quotas and sets a project's block limit.
btrfs qgroups:
    ``BTRFS_IOC_SUBVOL_CREATE`` makes a subvolume, ``BTRFS_IOC_INO_LOOKUP`` tells its id,
    ``BTRFS_IOC_QGROUP_LIMIT`` limits its level-0 qgroup (``0/<id>``), ``BTRFS_IOC_QUOTA_CTL``
    enables quotas on the filesystem, ``BTRFS_IOC_FS_INFO`` gives the fsid whose
    ``/sys/fs/btrfs/<fsid>/qgroups`` exists while quotas are on.

Every failure is an ``OSError`` with the kernel's errno; callers turn them into messages.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import uuid

# --- ioctl numbers (asm-generic/ioctl.h) ---------------------------------------------------
_IOC_WRITE, _IOC_READ = 1, 2


def ioc(direction: int, kind: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (kind << 8) | number


# --- statfs(2): which filesystem a path is on ------------------------------------------------
EXT4_SUPER_MAGIC = 0xEF53
XFS_SUPER_MAGIC = 0x58465342
BTRFS_SUPER_MAGIC = 0x9123683E
FS_NAMES = {
    EXT4_SUPER_MAGIC: "ext4",
    XFS_SUPER_MAGIC: "xfs",
    BTRFS_SUPER_MAGIC: "btrfs",
    0x01021994: "tmpfs",
    0x794C7630: "overlay",
    0x6969: "nfs",
    0x65735546: "fuse",
    0x2FC12FC1: "zfs",
}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def fs_type(path: str) -> int:
    """``f_type`` of statfs(2): the filesystem's magic number."""
    buf = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit; f_type comes first
    _check(_libc.statfs(os.fsencode(path), buf), f"statfs {path}")
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def fs_name(magic: int) -> str:
    return FS_NAMES.get(magic, f"filesystem type {magic:#x}")


# --- project ids (linux/fs.h) ------------------------------------------------------------------
class FsXattr(ctypes.Structure):
    _fields_ = [
        ("fsx_xflags", ctypes.c_uint32),
        ("fsx_extsize", ctypes.c_uint32),
        ("fsx_nextents", ctypes.c_uint32),
        ("fsx_projid", ctypes.c_uint32),
        ("fsx_cowextsize", ctypes.c_uint32),
        ("fsx_pad", ctypes.c_ubyte * 8),
    ]


FS_IOC_FSGETXATTR = ioc(_IOC_READ, ord("X"), 31, ctypes.sizeof(FsXattr))
FS_IOC_FSSETXATTR = ioc(_IOC_WRITE, ord("X"), 32, ctypes.sizeof(FsXattr))
FS_XFLAG_PROJINHERIT = 0x00000200


def set_project(path: str, project_id: int) -> None:
    """Give the directory ``path`` the project ``project_id``, inherited by what is made in it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = FsXattr()
        fcntl.ioctl(fd, FS_IOC_FSGETXATTR, attr)
        attr.fsx_projid = project_id
        attr.fsx_xflags |= FS_XFLAG_PROJINHERIT
        fcntl.ioctl(fd, FS_IOC_FSSETXATTR, attr)
    finally:
        os.close(fd)


# --- quotactl_fd(2) (linux/quota.h) -------------------------------------------------------------
SYS_QUOTACTL_FD = 443  # the same number on every architecture (added after the syscall tables merged)
PRJQUOTA = 2
Q_GETINFO = 0x800005
Q_GETQUOTA = 0x800007
Q_SETQUOTA = 0x800008
QIF_BLIMITS = 1
QIF_DQBLKSIZE = 1024  # dqb_bhardlimit counts 1 KiB blocks


def qcmd(command: int, quota_type: int) -> int:
    return (command << 8) | (quota_type & 0xFF)


class IfDqblk(ctypes.Structure):
    _fields_ = [
        ("dqb_bhardlimit", ctypes.c_uint64),
        ("dqb_bsoftlimit", ctypes.c_uint64),
        ("dqb_curspace", ctypes.c_uint64),
        ("dqb_ihardlimit", ctypes.c_uint64),
        ("dqb_isoftlimit", ctypes.c_uint64),
        ("dqb_curinodes", ctypes.c_uint64),
        ("dqb_btime", ctypes.c_uint64),
        ("dqb_itime", ctypes.c_uint64),
        ("dqb_valid", ctypes.c_uint32),
    ]


class IfDqinfo(ctypes.Structure):
    _fields_ = [
        ("dqi_bgrace", ctypes.c_uint64),
        ("dqi_igrace", ctypes.c_uint64),
        ("dqi_flags", ctypes.c_uint32),
        ("dqi_valid", ctypes.c_uint32),
    ]


def _quotactl_fd(path: str, command: int, qid: int, addr) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        result = _libc.syscall(ctypes.c_long(SYS_QUOTACTL_FD), ctypes.c_uint(fd),
                               ctypes.c_uint(qcmd(command, PRJQUOTA)), ctypes.c_uint32(qid), addr)
        _check(result, "quotactl")
    finally:
        os.close(fd)


def project_quota_enabled(path: str) -> None:
    """Return if the filesystem holding ``path`` keeps project quotas, else raise OSError
    (ESRCH: quotas are not on, i.e. not mounted with prjquota; ENOSYS, ENOTTY, EOPNOTSUPP...)."""
    info = IfDqinfo()
    _quotactl_fd(path, Q_GETINFO, 0, ctypes.byref(info))


def set_project_limit(path: str, project_id: int, limit_bytes: int) -> None:
    """The block hard limit of project ``project_id`` (0: none) on the filesystem holding ``path``."""
    blocks = (limit_bytes + QIF_DQBLKSIZE - 1) // QIF_DQBLKSIZE
    quota = IfDqblk(dqb_bhardlimit=blocks, dqb_bsoftlimit=blocks, dqb_valid=QIF_BLIMITS)
    _quotactl_fd(path, Q_SETQUOTA, project_id, ctypes.byref(quota))


# --- btrfs (linux/btrfs.h) ---------------------------------------------------------------------
BTRFS_IOCTL_MAGIC = 0x94
BTRFS_FIRST_FREE_OBJECTID = 256
BTRFS_QGROUP_LIMIT_MAX_RFER = 1
BTRFS_QUOTA_CTL_ENABLE = 1
BTRFS_LIMIT_CLEAR = 2**64 - 1  # max_rfer of "none": the kernel drops the limit


class BtrfsVolArgs(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int64), ("name", ctypes.c_char * 4088)]


class BtrfsInoLookupArgs(ctypes.Structure):
    _fields_ = [("treeid", ctypes.c_uint64), ("objectid", ctypes.c_uint64), ("name", ctypes.c_char * 4080)]


class BtrfsQgroupLimit(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("flags", "max_rfer", "max_excl", "rsv_rfer", "rsv_excl")]


class BtrfsQgroupLimitArgs(ctypes.Structure):
    _fields_ = [("qgroupid", ctypes.c_uint64), ("lim", BtrfsQgroupLimit)]


class BtrfsQuotaCtlArgs(ctypes.Structure):
    _fields_ = [("cmd", ctypes.c_uint64), ("status", ctypes.c_uint64)]


class BtrfsFsInfoArgs(ctypes.Structure):
    _fields_ = [("max_id", ctypes.c_uint64), ("num_devices", ctypes.c_uint64), ("fsid", ctypes.c_ubyte * 16),
                ("rest", ctypes.c_ubyte * (1024 - 32))]


BTRFS_IOC_SUBVOL_CREATE = ioc(_IOC_WRITE, BTRFS_IOCTL_MAGIC, 14, ctypes.sizeof(BtrfsVolArgs))
BTRFS_IOC_INO_LOOKUP = ioc(_IOC_READ | _IOC_WRITE, BTRFS_IOCTL_MAGIC, 18, ctypes.sizeof(BtrfsInoLookupArgs))
BTRFS_IOC_FS_INFO = ioc(_IOC_READ, BTRFS_IOCTL_MAGIC, 31, ctypes.sizeof(BtrfsFsInfoArgs))
BTRFS_IOC_QUOTA_CTL = ioc(_IOC_READ | _IOC_WRITE, BTRFS_IOCTL_MAGIC, 40, ctypes.sizeof(BtrfsQuotaCtlArgs))
BTRFS_IOC_QGROUP_LIMIT = ioc(_IOC_READ, BTRFS_IOCTL_MAGIC, 43, ctypes.sizeof(BtrfsQgroupLimitArgs))


def _ioctl_on(path: str, request: int, arg: ctypes.Structure) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, request, arg)
    finally:
        os.close(fd)


def btrfs_fsid(path: str) -> str:
    args = BtrfsFsInfoArgs()
    _ioctl_on(path, BTRFS_IOC_FS_INFO, args)
    return str(uuid.UUID(bytes=bytes(args.fsid)))


def btrfs_quota_enabled(path: str) -> bool:
    return os.path.isdir(f"/sys/fs/btrfs/{btrfs_fsid(path)}/qgroups")


def btrfs_enable_quota(path: str) -> None:
    _ioctl_on(path, BTRFS_IOC_QUOTA_CTL, BtrfsQuotaCtlArgs(cmd=BTRFS_QUOTA_CTL_ENABLE))


def btrfs_create_subvolume(path: str) -> int:
    """Make ``path`` (which must not exist) a new subvolume; return its id."""
    parent, name = os.path.split(os.path.abspath(path))
    args = BtrfsVolArgs(fd=0, name=os.fsencode(name))
    _ioctl_on(parent, BTRFS_IOC_SUBVOL_CREATE, args)
    return btrfs_subvolume_id(path)


def btrfs_subvolume_id(path: str) -> int:
    args = BtrfsInoLookupArgs(treeid=0, objectid=BTRFS_FIRST_FREE_OBJECTID)
    _ioctl_on(path, BTRFS_IOC_INO_LOOKUP, args)
    return args.treeid


def btrfs_limit(path: str, subvolume_id: int, limit_bytes: int | None) -> None:
    """Limit the referenced bytes of qgroup ``0/<subvolume_id>`` (None: no limit); ``path``
    is any file of the filesystem."""
    limit = BtrfsQgroupLimit(flags=BTRFS_QGROUP_LIMIT_MAX_RFER,
                             max_rfer=BTRFS_LIMIT_CLEAR if limit_bytes is None else limit_bytes)
    _ioctl_on(path, BTRFS_IOC_QGROUP_LIMIT, BtrfsQgroupLimitArgs(qgroupid=subvolume_id, lim=limit))
