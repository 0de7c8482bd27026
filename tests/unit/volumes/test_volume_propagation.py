"""Shared/slave bind propagation needs a shared/slave host mount (moby ensureShared)."""

from __future__ import annotations

import pytest

from pouch.errors import InvalidArgument
from pouch.models import BindMount
from pouch.volumes.propagation import check_propagation, parse_mountinfo, source_mount

MOUNTINFO = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:40 / /srv/shared rw shared:7 - tmpfs tmpfs rw
41 27 0:41 / /srv/slave rw master:7 - tmpfs tmpfs rw
42 27 0:42 / /srv/with\\040space rw shared:9 - tmpfs tmpfs rw
"""


def test_parse_and_find_source_mount():
    mounts = parse_mountinfo(MOUNTINFO)
    assert [m.mount_point for m in mounts] == ["/", "/srv/shared", "/srv/slave", "/srv/with space"]
    assert source_mount("/srv/shared/a/b", mounts).mount_point == "/srv/shared"
    assert source_mount("/srv/sharedx", mounts).mount_point == "/"
    assert source_mount("/srv/with space/x", mounts).shared


@pytest.mark.parametrize("source, propagation, error", [
    ("/srv/shared/x", "rshared", ""),
    ("/srv/slave/x", "rslave", ""),
    ("/srv/shared/x", "slave", ""),
    ("/srv/slave/x", "shared", "path /srv/slave/x is mounted on /srv/slave but it is not a shared mount"),
    ("/home", "rslave", "path /home is mounted on / but it is not a shared or slave mount"),
    ("/home", "rprivate", ""),
])
def test_check_propagation(source, propagation, error):
    binds = [BindMount(source, "/x", propagation=propagation)]
    if error:
        with pytest.raises(InvalidArgument, match=error):
            check_propagation(binds, parse_mountinfo(MOUNTINFO), realpath=lambda p: p)
    else:
        check_propagation(binds, parse_mountinfo(MOUNTINFO), realpath=lambda p: p)
