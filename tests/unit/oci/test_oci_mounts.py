import pytest

from pouch.errors import InvalidArgument
from pouch.models import BindMount
from pouch.oci.mounts import (
    assemble_mounts,
    bind_mount,
    clean_destination,
    default_mounts,
    etc_file_mounts,
    merge_tmpfs_options,
    rootfs_propagation,
    tmpfs_mount,
)
from pouch.types import Mount


def test_bind_default_and_read_only():
    assert bind_mount(BindMount("/data", "/srv/data")) == Mount("bind", "/data", "/srv/data", ("rbind", "rprivate"))
    assert bind_mount(BindMount("/data", "/srv/data/", read_only=True)) == Mount(
        "bind", "/data", "/srv/data", ("rbind", "ro", "rprivate")
    )
    assert bind_mount(BindMount("/d", "/x", propagation="rshared")).options == ("rbind", "rshared")


@pytest.mark.parametrize(
    "bind",
    [BindMount("/d", "relative"), BindMount("relative", "/x"), BindMount("/d", "/"), BindMount("/d", "/x", propagation="bogus")],
)
def test_bad_binds(bind):
    with pytest.raises(InvalidArgument):
        bind_mount(bind)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", ["rw", "noexec", "nosuid", "nodev"]),
        ("size=64m", ["rw", "noexec", "nosuid", "nodev", "size=64m"]),
        ("exec,mode=1777", ["rw", "nosuid", "nodev", "exec", "mode=1777"]),
        ("ro,size=1m,size=2m", ["noexec", "nosuid", "nodev", "ro", "size=2m"]),
        ("suid,dev", ["rw", "noexec", "suid", "dev"]),
        ("noexec", ["rw", "nosuid", "nodev", "noexec"]),
    ],
)
def test_tmpfs_options_merge_with_dockers_defaults(user, expected):
    assert tmpfs_mount("/run", user) == Mount("tmpfs", "tmpfs", "/run", tuple(expected))


def test_merge_tmpfs_options_keeps_keys_distinct():
    assert merge_tmpfs_options(["mode=755"], ["uid=1", "gid=2", "mode=700"]) == ["uid=1", "gid=2", "mode=700"]


def test_default_mounts_shm_size():
    shm = [m for m in default_mounts(1 << 30) if m.target == "/dev/shm"][0]
    assert shm == Mount("tmpfs", "shm", "/dev/shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=1073741824"))
    with pytest.raises(InvalidArgument):
        default_mounts(-1)


def test_privileged_sys_and_cgroup_are_writable():
    by_target = {m.target: m for m in default_mounts(64, privileged=True)}
    assert "ro" not in by_target["/sys"].options
    assert "ro" not in by_target["/sys/fs/cgroup"].options


def test_etc_files_order_and_read_only():
    files = {"/etc/hosts": "/c/hosts", "/etc/hostname": "/c/hostname", "/etc/resolv.conf": "/c/resolv.conf"}
    mounts = etc_file_mounts(files)
    assert [m.target for m in mounts] == ["/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]
    assert all(m.options == ("rbind", "rprivate") for m in mounts)
    assert all(m.options == ("rbind", "rprivate", "ro") for m in etc_file_mounts(files, read_only=True))


def test_user_mount_replaces_default_and_etc_file():
    etc = etc_file_mounts({"/etc/hosts": "/c/hosts"})
    user = [tmpfs_mount("/dev/shm", "size=1g"), bind_mount(BindMount("/my/hosts", "/etc/hosts"))]
    mounts = assemble_mounts(default_mounts(64), etc, user)
    shm = [m for m in mounts if m.target == "/dev/shm"]
    hosts = [m for m in mounts if m.target == "/etc/hosts"]
    assert len(shm) == 1 and shm[0].source == "tmpfs"
    assert hosts == [Mount("bind", "/my/hosts", "/etc/hosts", ("rbind", "rprivate"))]


def test_user_mount_over_dev_drops_dev_submounts():
    mounts = assemble_mounts(default_mounts(64), [], [bind_mount(BindMount("/dev", "/dev"))])
    assert [m.target for m in mounts] == ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]


def test_parents_before_children_and_duplicates():
    user = [bind_mount(BindMount("/a", "/srv/a/b")), bind_mount(BindMount("/b", "/srv")), tmpfs_mount("/srv/a", "")]
    assert [m.target for m in assemble_mounts([], [], user)] == ["/srv", "/srv/a", "/srv/a/b"]
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /srv"):
        assemble_mounts([], [], [bind_mount(BindMount("/a", "/srv")), tmpfs_mount("/srv/", "")])


def test_clean_destination():
    assert clean_destination("/a//b/../c/") == "/a/c"
    assert clean_destination("//x") == "/x"


def test_rootfs_propagation():
    assert rootfs_propagation([BindMount("/a", "/a")]) == ""
    assert rootfs_propagation([BindMount("/a", "/a", propagation="rslave")]) == "rslave"
    both = [BindMount("/a", "/a", propagation="rslave"), BindMount("/b", "/b", propagation="shared")]
    assert rootfs_propagation(both) == "rshared"
