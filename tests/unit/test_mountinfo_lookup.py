from pouch.mount import is_mountpoint, listed_in_mountinfo

MOUNTINFO = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "98 22 0:50 / /var/lib/pouch/containers/abc/rootfs rw,relatime - overlay overlay rw,lowerdir=/l\n"
    "99 22 0:51 / /srv/with\\040space rw - tmpfs tmpfs rw\n"
    "100 22 0:52 / /srv/back\\134slash rw - tmpfs tmpfs rw\n"
)


def test_a_listed_mount_point_is_found_escapes_included():
    assert listed_in_mountinfo(MOUNTINFO, "/var/lib/pouch/containers/abc/rootfs")
    assert listed_in_mountinfo(MOUNTINFO, "/srv/with space")
    assert listed_in_mountinfo(MOUNTINFO, "/srv/back\\slash")
    assert listed_in_mountinfo(MOUNTINFO, "/")


def test_a_prefix_a_root_field_or_an_option_is_not_a_mount_point():
    assert not listed_in_mountinfo(MOUNTINFO, "/var/lib/pouch/containers/abc")
    assert not listed_in_mountinfo(MOUNTINFO, "/var/lib/pouch/containers/abc/rootfs/etc")
    assert not listed_in_mountinfo(MOUNTINFO, "/l")
    assert not listed_in_mountinfo("22 1 8:1 /srv/x / rw - ext4 /dev/sda1 rw\n", "/srv/x")  # field 4, the root


def test_this_hosts_proc_is_a_mount_point_and_its_subdirectory_is_not():
    assert is_mountpoint("/proc") and not is_mountpoint("/proc/self/fd")
