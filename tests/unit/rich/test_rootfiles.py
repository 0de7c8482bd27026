"""Pouch's files in a container's root: written again at each start, never through a symlink."""

from __future__ import annotations

import os
import stat

import pytest

from pouch.errors import InvalidArgument
from pouch.models import RichOptions
from pouch.rich import rootfiles
from pouch.rich.systemd import SystemdInput, rootfs_files, stale_links


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "null").write_text("the image's /dev/null")
    return root


def test_a_mask_is_placed_again_without_following_the_previous_one(root):
    for _ in range(3):
        rootfiles.place_link(str(root), "/etc/systemd/system/console-getty.service", "/dev/null")
        rootfiles.place_link(str(root), "/etc/systemd/system/getty@tty1.service", "/dev/null")
    assert os.readlink(root / "etc/systemd/system/getty@tty1.service") == "/dev/null"
    assert (root / "dev" / "null").read_text() == "the image's /dev/null"  # never replaced through the link


def test_a_link_to_another_target_or_a_file_is_replaced_a_directory_refused(root):
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    os.symlink("/.pouch/ops/old.service", units / "agent.service")
    (units / "pouch-app.service").write_text("the image's own unit")
    (units / "dir.service").mkdir()
    rootfiles.place_link(str(root), "/etc/systemd/system/agent.service", "/.pouch/ops/agent.service")
    rootfiles.place_link(str(root), "/etc/systemd/system/pouch-app.service", "/.pouch/rich/pouch-app.service")
    assert os.readlink(units / "agent.service") == "/.pouch/ops/agent.service"
    assert os.readlink(units / "pouch-app.service") == "/.pouch/rich/pouch-app.service"
    with pytest.raises(InvalidArgument, match="is a directory"):
        rootfiles.place_link(str(root), "/etc/systemd/system/dir.service", "/dev/null")


def test_parent_links_are_resolved_inside_the_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc").mkdir()
    os.symlink(str(outside), root / "etc" / "systemd")  # absolute: the root's own /tmp/.../outside
    rootfiles.place_link(str(root), "/etc/systemd/system/x.service", "/dev/null")
    assert os.listdir(outside) == []
    assert os.readlink(root / str(outside).lstrip("/") / "system" / "x.service") == "/dev/null"


def test_write_file_replaces_a_symlink_rather_than_writing_through_it(root, tmp_path):
    victim = tmp_path / "host-file"
    victim.write_text("host")
    (root / "etc").mkdir()
    os.symlink(str(victim), root / "etc" / "machine-id")
    os.symlink("../../" * 10 + str(victim), root / "etc" / "hostname")
    rootfiles.write_file(str(root), "/etc/machine-id", "abc\n", mode=0o444)
    rootfiles.write_file(str(root), "/etc/hostname", "h\n")
    assert victim.read_text() == "host"
    assert (root / "etc" / "machine-id").read_text() == "abc\n"
    assert stat.S_IMODE(os.lstat(root / "etc" / "machine-id").st_mode) == 0o444
    assert not os.path.islink(root / "etc" / "hostname")
    assert sorted(os.listdir(root / "etc")) == ["hostname", "machine-id"]  # no temp file left


def test_read_text_skips_fifos_and_loops(root):
    (root / "etc").mkdir()
    os.mkfifo(root / "etc" / "inittab")
    os.symlink("/etc/loop", root / "etc" / "loop")
    (root / "etc" / "rc").write_text("x")
    assert rootfiles.read_text(str(root), "/etc/inittab") is None
    assert rootfiles.read_text(str(root), "/etc/loop") is None
    assert rootfiles.read_text(str(root), "/etc/none") is None
    assert rootfiles.read_text(str(root), "/etc/rc") == "x"


def test_links_in_and_remove_links(root):
    units = root / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True)
    os.symlink("/.pouch/ops/a.service", units / "a.service")
    os.symlink("/.pouch/ops/a.service", units / "multi-user.target.wants" / "a.service")
    (units / "plain.service").write_text("")
    dirs = ("/etc/systemd/system", "/etc/systemd/system/multi-user.target.wants", "/etc/none")
    found = rootfiles.links_in(str(root), dirs)
    assert found == {"/etc/systemd/system/a.service": "/.pouch/ops/a.service",
                     "/etc/systemd/system/multi-user.target.wants/a.service": "/.pouch/ops/a.service"}
    rootfiles.remove_links(str(root), dict(found, **{"/etc/systemd/system/plain.service": "x"}))
    assert os.listdir(units / "multi-user.target.wants") == []
    assert sorted(os.listdir(units)) == ["multi-user.target.wants", "plain.service"]


def test_a_self_link_is_repaired(root):
    os.unlink(root / "dev" / "null")
    os.symlink("/dev/null", root / "dev" / "null")
    assert rootfiles.repair_self_link(str(root), "/dev/null", lambda: None) is True
    assert not os.path.lexists(root / "dev" / "null")
    assert rootfiles.repair_self_link(str(root), "/dev/null", lambda: None) is False
    (root / "dev" / "null").write_text("a file")
    assert rootfiles.repair_self_link(str(root), "/dev/null", lambda: None) is False
    assert rootfiles.repair_self_link(str(root), "/no/such/dir/null", lambda: None) is False


def test_stale_links_are_pouchs_links_this_start_does_not_want():
    inp = SystemdInput(RichOptions(ops_dir="/ops"), "ab" * 32, "/sbin/init", ("/bin/app",), "/bin/busybox",
                       "/h/rich", "/h/run", "")
    wanted = rootfs_files(inp, ["agent.service"])
    existing = {
        "/etc/systemd/system/agent.service": "/.pouch/ops/agent.service",
        "/etc/systemd/system/gone.service": "/.pouch/ops/gone.service",
        "/etc/systemd/system/multi-user.target.wants/gone.service": "/.pouch/ops/gone.service",
        "/etc/systemd/system/multi-user.target.wants/cron.service": "/lib/systemd/system/cron.service",
        "/etc/systemd/system/getty@tty1.service": "/dev/null",
    }
    assert stale_links(existing, wanted) == {
        "/etc/systemd/system/gone.service": "/.pouch/ops/gone.service",
        "/etc/systemd/system/multi-user.target.wants/gone.service": "/.pouch/ops/gone.service",
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_self_link_at_a_device_gets_the_images_device_back(root):
    os.unlink(root / "dev" / "null")
    os.symlink("/dev/null", root / "dev" / "null")
    assert rootfiles.repair_self_link(str(root), "/dev/null", lambda: os.makedev(1, 3)) is True
    st = os.lstat(root / "dev" / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666
