"""What of a container's upper dir is Pouch's own (left out of commit and diff)."""

from __future__ import annotations

import pytest

from pouch.images.artefacts import runtime_artefact
from pouch.images.layertar import Action, Kind


@pytest.mark.parametrize("path, kind, target, size, action", [
    ("/.pouch", Kind.DIR, "", 0, Action.SKIP),
    ("/.pouch/run/go", Kind.FILE, "", 0, Action.SKIP),
    ("/.pouchy", Kind.FILE, "", 3, Action.KEEP),
    ("/etc/machine-id", Kind.FILE, "", 33, Action.EMPTY),
    ("/etc/machine-id", Kind.FILE, "", 0, Action.KEEP),
    ("/etc/profile.d/pouch-env.sh", Kind.FILE, "", 40, Action.SKIP),
    ("/etc/profile.d/other.sh", Kind.FILE, "", 40, Action.KEEP),
    ("/etc/systemd/system/pouch-app.service", Kind.SYMLINK, "/.pouch/rich/pouch-app.service", 0, Action.SKIP),
    ("/etc/systemd/system/multi-user.target.wants/pouch-app.service", Kind.SYMLINK,
     "/.pouch/rich/pouch-app.service", 0, Action.SKIP),
    ("/etc/systemd/system/ops-agent.service", Kind.SYMLINK, "/.pouch/ops/ops-agent.service", 0, Action.SKIP),
    ("/etc/systemd/system/console-getty.service", Kind.SYMLINK, "/dev/null", 0, Action.SKIP),
    ("/etc/systemd/system/getty@tty1.service", Kind.SYMLINK, "/dev/null", 0, Action.SKIP),
    # the user's own: a unit they masked, a service they enabled
    ("/etc/systemd/system/apache2.service", Kind.SYMLINK, "/dev/null", 0, Action.KEEP),
    ("/etc/systemd/system/multi-user.target.wants/cron.service", Kind.SYMLINK,
     "/lib/systemd/system/cron.service", 0, Action.KEEP),
    ("/etc/systemd/system/console-getty.service", Kind.FILE, "", 10, Action.KEEP),
    # runc's mount points for pouchd's etc files, but not a file the user wrote
    ("/etc/hosts", Kind.FILE, "", 0, Action.SKIP),
    ("/etc/resolv.conf", Kind.FILE, "", 0, Action.SKIP),
    ("/etc/hostname", Kind.FILE, "", 12, Action.KEEP),
    ("/etc/passwd", Kind.FILE, "", 0, Action.KEEP),
    ("/srv/data", Kind.FILE, "", 5, Action.KEEP),
])
def test_runtime_artefact(path, kind, target, size, action):
    assert runtime_artefact(path, kind, target, size) == action
