"""No host user but root can read or run anything in pouchd's store (issue 12, the
CVE-2021-41091 class): as ``nobody`` a container's secret (in its rootfs, its rw layer, its
bundle, the database and its WAL) can't be read and a setuid-root binary in an image layer
can't be run -- on a new root and on one an older pouchd left world-traversable -- while
containers with a non-root USER work as before.

The daemon's base directory is made world-traversable (0755, under /tmp) so that only the
store's own modes stand between ``nobody`` and its files.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from tests.integration.conftest import running_daemon

# setpriv execs its command with the capabilities it kept; a shell started by it has none
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/sh", "-c", 'exec "$0" "$@"']
SECRET = "DB_PASSWORD=hunter2-" + os.urandom(4).hex()


@pytest.fixture
def open_base():
    base = tempfile.mkdtemp(prefix="pouch-private-", dir="/tmp")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, timeout=30)


def suid_layer(path: str) -> None:
    """A layer with a setuid-root copy of busybox."""
    with open("/bin/busybox", "rb") as f:
        data = f.read()
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("suid/busybox")
        info.size, info.mode, info.uid, info.gid = len(data), 0o4755, 0, 0
        tf.addfile(info, io.BytesIO(data))


def store_files(d, cid: str) -> list[str]:
    """Where the secret and the setuid binary are on the host (found as root)."""
    found = [os.path.join(d.root, "pouch.db"), os.path.join(d.root, "pouch.db-wal"),
             os.path.join(d.root, "containers", cid, "rootfs", "app.conf"),
             os.path.join(d.root, "snapshots", "containers", cid, "upper", "app.conf"),
             os.path.join(d.exec_root, "bundles", cid, "config.json")]
    for dirpath, _dirs, files in os.walk(os.path.join(d.root, "snapshots")):
        if "busybox" in files and dirpath.endswith("/suid"):
            found.append(os.path.join(dirpath, "busybox"))
    for path in found:
        assert os.path.exists(path), path
    return found


def assert_nothing_for_nobody(d, cid: str) -> None:
    paths = store_files(d, cid)
    for path in paths[:-1]:
        result = as_nobody("cat", path)
        assert result.returncode != 0 and "Permission denied" in result.stderr, (path, result)
    result = as_nobody(paths[-1], "id", "-u")  # the setuid-root binary of the layer
    assert result.returncode != 0 and "Permission denied" in result.stderr, result
    for top in (d.root, d.exec_root):
        assert as_nobody("ls", top).returncode != 0
    grep = as_nobody("grep", "-r", SECRET.split("=")[1], d.base)
    assert SECRET.split("=")[1] not in grep.stdout


def test_nobody_reads_and_runs_nothing_in_the_store(open_base, busybox_tar, tmp_path):
    layer = str(tmp_path / "suid.tar")
    suid_layer(layer)
    with running_daemon(os.path.join(open_base, "d"), busybox_tar) as d:
        os.chmod(d.base, 0o755)
        d.cli("import", layer, "suid:1")
        cid = d.cli("run", "-d", "--name", "secret", "-e", SECRET, "busybox", "sh", "-c",
                    f"echo {SECRET} > /app.conf; sleep 1000").stdout.strip()
        d.cli("exec", "secret", "test", "-e", "/app.conf")
        assert_nothing_for_nobody(d, cid)

        # a root an older pouchd made: world-traversable directories, a readable database
        d.stop()
        for path in (d.root, d.exec_root):
            os.chmod(path, 0o711)
        for path in ("content", "snapshots", "containers", os.path.join("containers", cid)):
            os.chmod(os.path.join(d.root, path), 0o755)
        for name in ("pouch.db", "pouch.db-wal", "pouch.db-shm"):
            if os.path.exists(os.path.join(d.root, name)):
                os.chmod(os.path.join(d.root, name), 0o644)
        assert as_nobody("cat", os.path.join(d.root, "containers", cid, "rootfs", "app.conf")).returncode == 0
        d.start()
        for path in (d.root, d.exec_root):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o710
        assert stat.S_IMODE(os.stat(os.path.join(d.root, "pouch.db")).st_mode) == 0o600
        assert_nothing_for_nobody(d, cid)
        d.cli("rm", "-f", "secret")


def test_containers_with_a_non_root_user_still_work(open_base, busybox_tar):
    with running_daemon(os.path.join(open_base, "d"), busybox_tar) as d:
        out = d.cli("run", "--rm", "--user", "65534:65534", "busybox", "sh", "-c",
                    "id -u; cat /etc/hostname >/dev/null && ls / >/dev/null && echo ok > /tmp/x && cat /tmp/x").stdout
        assert out.split() == ["65534", "ok"]
        d.cli("run", "-d", "--name", "user1000", "--user", "1000", "busybox", "sleep", "1000")
        assert d.cli("exec", "user1000", "id", "-u").stdout.strip() == "1000"
        assert d.cli("exec", "--user", "65534", "user1000", "sh", "-c", "ls /etc >/dev/null && echo ok").stdout.strip() == "ok"
        d.cli("rm", "-f", "user1000")
