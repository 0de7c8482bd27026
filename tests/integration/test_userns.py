"""``--userns=auto`` and ``pouchd --userns-remap default``: root in the container is an
unprivileged id range on the host (pouch/userns)."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from tests.integration.conftest import container, running_daemon, unique_name, wait_until

EUID_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("euid=%d uid=%d\n", (int)geteuid(), (int)getuid()); fflush(stdout); sleep(300); return 0; }
"""


@pytest.fixture(scope="module")
def daemon(busybox_tar):
    """This module's own pouchd, its --root under a 0711 directory: a user namespace's root must
    get through every directory above it (pytest's own tmp dirs are 0700, and pytest sets them
    back to 0700 when another session starts)."""
    base = tempfile.mkdtemp(prefix="pouch-userns-", dir="/var/tmp")
    os.chmod(base, 0o711)
    try:
        with running_daemon(os.path.join(base, "d"), busybox_tar) as d:
            yield d
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def host_dir(daemon):
    """A fresh directory the user namespaces can reach (under the daemon's 0711 base)."""
    path = tempfile.mkdtemp(dir=os.path.dirname(daemon.base))
    os.chmod(path, 0o711)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def host_ids(pid: int) -> tuple[list[int], list[int]]:
    """The Uid and Gid lines (real, effective, saved, fs) of a process, as the host sees them."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                fields[key] = [int(v) for v in value.split()]
    return fields["Uid"], fields["Gid"]


def base_of(daemon, name: str) -> int:
    pid = daemon.inspect(name)["State"]["Pid"]
    with open(f"/proc/{pid}/uid_map") as f:
        inside, base, size = (int(v) for v in f.read().split())
    assert (inside, size) == (0, 65536)
    return base


def upper_dir(daemon, cid: str) -> str:
    return os.path.join(daemon.root, "snapshots", "containers", cid, "upper")


@pytest.fixture(scope="module")
def setuid_image(daemon, tmp_path_factory) -> str:
    """An image with a setuid-root binary, /euid, that prints its ids and sleeps."""
    ctx = tmp_path_factory.mktemp("setuid")
    (ctx / "euid.c").write_text(EUID_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(ctx / "euid"), str(ctx / "euid.c")], check=True)
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY euid /euid\nRUN chown 0:0 /euid && chmod 4755 /euid\n")
    daemon.cli("build", "-t", "userns-setuid:1", str(ctx))
    yield "userns-setuid:1"
    daemon.cli("rmi", "-f", "userns-setuid:1", check=False)


def test_root_in_the_container_is_an_unprivileged_host_id(daemon):
    name = unique_name("userns")
    with container(daemon, "--userns=auto", "busybox", "sleep", "300", name=name):
        assert daemon.cli("exec", name, "id", "-u").stdout.strip() == "0"
        base = base_of(daemon, name)
        assert base >= 100000
        uids, gids = host_ids(daemon.inspect(name)["State"]["Pid"])
        assert uids == [base] * 4 and gids == [base] * 4
        assert daemon.inspect(name)["HostConfig"]["UsernsMode"] == "auto"


def test_each_container_gets_its_own_range_freed_on_removal(daemon):
    a, b = unique_name("userns-a"), unique_name("userns-b")
    with container(daemon, "--userns=auto", "busybox", "sleep", "300", name=a):
        first = base_of(daemon, a)
        with container(daemon, "--userns=auto", "busybox", "sleep", "300", name=b):
            second = base_of(daemon, b)
            assert abs(second - first) >= 65536
        daemon.cli("restart", "-t", "0", a)  # a keeps its range
        assert base_of(daemon, a) == first
    c = unique_name("userns-c")
    with container(daemon, "--userns=auto", "busybox", "sleep", "300", name=c):
        assert base_of(daemon, c) == first  # a's range was freed with it, the lowest is reused


def test_image_files_show_the_image_ids_inside_and_new_files_mapped_ids_in_the_upper_dir(daemon):
    name = unique_name("userns-files")
    with container(daemon, "--userns=auto", "busybox", "sh", "-c",
                   "echo hi > /created; chmod 600 /etc/passwd; sleep 300", name=name) as cid:
        base = base_of(daemon, name)
        out = daemon.cli("exec", name, "stat", "-c", "%u:%g %n", "/bin/busybox", "/created", "/etc/passwd", "/").stdout
        assert out.split("\n")[:4] == ["0:0 /bin/busybox", "0:0 /created", "0:0 /etc/passwd", "0:0 /"]
        created = os.stat(os.path.join(upper_dir(daemon, cid), "created"))
        assert (created.st_uid, created.st_gid) == (base, base)  # the upper layer holds host ids
        copied_up = os.stat(os.path.join(upper_dir(daemon, cid), "etc", "passwd"))
        assert copied_up.st_uid == base


def test_root_in_the_container_cannot_read_a_hosts_root_only_file(daemon, host_dir):
    shared = host_dir / "shared"
    shared.mkdir()
    secret = shared / "secret"
    secret.write_text("host secret\n")
    os.chmod(secret, 0o600)
    os.chmod(shared, 0o755)
    name = unique_name("userns-bind")
    with container(daemon, "--userns=auto", "-v", f"{shared}:/shared", "busybox", "sleep", "300", name=name):
        read = daemon.cli("exec", name, "cat", "/shared/secret", check=False)
        assert read.returncode != 0 and "Permission denied" in read.stderr
        write = daemon.cli("exec", name, "sh", "-c", "echo x > /shared/planted", check=False)
        assert write.returncode != 0 and not (shared / "planted").exists()
        # the host's root shows as the overflow id: the container's root is not it
        assert daemon.cli("exec", name, "stat", "-c", "%u", "/shared/secret").stdout.strip() == "65534"


def test_a_setuid_root_binary_is_root_inside_and_an_unprivileged_id_outside(daemon, setuid_image):
    name = unique_name("userns-suid")
    with container(daemon, "--userns=auto", "-u", "1000:1000", setuid_image, "/euid", name=name):
        base = base_of(daemon, name)
        daemon_logs = daemon.cli("logs", name)
        assert "euid=0 uid=1000" in daemon_logs.stdout
        uids, _ = host_ids(daemon.inspect(name)["State"]["Pid"])
        assert uids[:2] == [base + 1000, base]  # real: the user's, effective: the container's root
        assert 0 not in uids


def test_without_userns_the_container_shares_the_hosts_ids(daemon):
    assert "name=userns" not in daemon.api("GET", "/info")["SecurityOptions"]
    name = unique_name("userns-none")
    with container(daemon, "busybox", "sleep", "300", name=name):
        uids, _ = host_ids(daemon.inspect(name)["State"]["Pid"])
        assert uids == [0, 0, 0, 0]


def test_privileged_and_host_network_need_the_hosts_namespace(daemon):
    for flag in ("--privileged", "--network=host"):
        result = daemon.cli("run", "--rm", "--userns=auto", flag, "busybox", "true", check=False)
        assert result.returncode != 0 and "--userns=host" in result.stderr
    assert daemon.cli("run", "--rm", "--userns=bogus", "busybox", "true", check=False).returncode != 0


def test_userns_remap_default_gives_every_container_a_range_and_survives_a_restart(host_dir, busybox_tar):
    with running_daemon(str(host_dir / "d"), busybox_tar, ("--userns-remap", "default")) as d:
        name = unique_name("remapped")
        d.cli("run", "-d", "--name", name, "busybox", "sleep", "300")
        base = base_of(d, name)
        assert base >= 100000
        assert d.inspect(name)["HostConfig"]["UsernsMode"] == "auto"
        assert "name=userns" in d.api("GET", "/info")["SecurityOptions"]
        host = unique_name("hostns")
        d.cli("run", "-d", "--name", host, "--userns=host", "busybox", "sleep", "300")
        assert host_ids(d.inspect(host)["State"]["Pid"])[0] == [0, 0, 0, 0]
        d.stop()
        d.start()
        d.cli("restart", "-t", "0", name)  # a new process, after a pouchd restart: the recorded range
        assert base_of(d, name) == base
        other = unique_name("remapped2")
        d.cli("run", "-d", "--name", other, "busybox", "sleep", "300")
        assert abs(base_of(d, other) - base) >= 65536
        d.cli("rm", "-f", name, other, host)
        # a build's RUN steps run in user namespaces too; the layers get the image's ids
        ctx = host_dir / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN touch /by-root && touch /by-user && chown 1000:1000 /by-user\n")
        d.cli("build", "-t", "remapped-build:1", str(ctx))
        out = d.cli("run", "--rm", "--userns=host", "remapped-build:1", "stat", "-c", "%u:%g", "/by-root", "/by-user")
        assert out.stdout.split() == ["0:0", "1000:1000"]


@pytest.mark.parametrize("mode", ["dumb-init", "sbin-init"])
def test_rich_modes_run_in_a_user_namespace(daemon, mode):
    name = unique_name(f"userns-{mode}")
    with container(daemon, "--userns=auto", "--rich", "--rich-mode", mode, "--prestart-hook", "id -u > /tmp/hook",
                   "busybox", "sh", "-c", "echo app-is-up; sleep 300", name=name):
        wait_until(lambda: "app-is-up" in daemon.cli("logs", name).stdout, what="the app's first line")
        base = base_of(daemon, name)
        assert host_ids(daemon.inspect(name)["State"]["Pid"])[0] == [base] * 4  # init: root inside only
        assert daemon.cli("exec", name, "cat", "/tmp/hook").stdout.strip() == "0"
        daemon.cli("stop", "-t", "5", name)
        daemon.cli("start", name)
        assert base_of(daemon, name) == base


def test_systemd_boots_in_a_user_namespace(daemon, debian_systemd_tar):
    if "debian-systemd" not in daemon.cli("images").stdout:
        daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    name = unique_name("userns-systemd")
    with container(daemon, "--userns=auto", "--rich", "--rich-mode", "systemd", "debian-systemd:bookworm",
                   "sh", "-c", "echo app-is-up; sleep 1000", name=name):
        def state() -> str:
            return daemon.cli("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        wait_until(lambda: state() in ("running", "degraded"), timeout=60, what="systemd to finish booting")
        assert state() == "running", daemon.cli("exec", name, "systemctl", "--failed", "--no-pager", check=False).stdout
        assert daemon.cli("exec", name, "systemctl", "is-active", "cron", "rsyslog", "ssh").stdout.split() == ["active"] * 3
        base = base_of(daemon, name)
        assert host_ids(daemon.inspect(name)["State"]["Pid"])[0] == [base] * 4
        wait_until(lambda: "app-is-up" in daemon.cli("logs", name).stdout, what="the app's first line")


def test_an_idmap_bind_shows_host_ids_as_the_containers_own(daemon, host_dir):
    shared = host_dir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    secret = shared / "secret"
    secret.write_text("for the container's root\n")
    os.chmod(secret, 0o600)
    os.chown(shared / "secret", 0, 0)
    name = unique_name("userns-idmap")
    with container(daemon, "--userns=auto", "-v", f"{shared}:/shared:idmap", "busybox", "sleep", "300", name=name):
        assert daemon.cli("exec", name, "cat", "/shared/secret").stdout == "for the container's root\n"
        assert daemon.cli("exec", name, "stat", "-c", "%u", "/shared/secret").stdout.strip() == "0"
        daemon.cli("exec", name, "sh", "-c", "echo made > /shared/made; chown 1000:1000 /shared/made")
        made = os.stat(shared / "made")
        assert (made.st_uid, made.st_gid) == (1000, 1000)  # the container's ids, not the range's
    assert daemon.cli("run", "--rm", "-v", f"{shared}:/s:idmap", "busybox", "true", check=False).returncode != 0


def test_the_containers_root_manages_its_own_network_with_net_admin(daemon):
    name = unique_name("userns-net")
    with container(daemon, "--userns=auto", "--cap-add", "NET_ADMIN", "busybox", "sleep", "300", name=name):
        daemon.cli("exec", name, "ip", "addr", "add", "10.99.99.99/32", "dev", "lo")
        assert "10.99.99.99" in daemon.cli("exec", name, "ip", "addr", "show", "lo").stdout
        # ports below 1024 bind without privilege over the host (ip_unprivileged_port_start=0 in its netns)
        bound = daemon.cli("exec", name, "sh", "-c", "nc -l -p 80 & for i in $(seq 100); do "
                           "netstat -ltn | grep -q ':80 ' && exit 0; usleep 20000; done; exit 1", check=False)
        assert bound.returncode == 0, bound.stderr


def test_cp_writes_and_reads_the_containers_ids(daemon, host_dir):
    name = unique_name("userns-cp")
    with container(daemon, "--userns=auto", "busybox", "sh", "-c",
                   "echo x > /made; chown 1000:1000 /made; sleep 300", name=name) as cid:
        base = base_of(daemon, name)
        src = host_dir / "in.txt"
        src.write_text("from the host\n")
        daemon.cli("cp", str(src), f"{name}:/tmp/in.txt")
        assert daemon.cli("exec", name, "stat", "-c", "%u:%g", "/tmp/in.txt").stdout.strip() == "0:0"
        assert os.stat(os.path.join(upper_dir(daemon, cid), "tmp", "in.txt")).st_uid == base
        wait_until(lambda: daemon.cli("exec", name, "test", "-e", "/made", check=False).returncode == 0,
                   what="/made")
        for ref in ("/made", "/bin/busybox"):
            out = daemon.cli("cp", f"{name}:{ref}", "-", text=False).stdout
            member = tarfile.open(fileobj=io.BytesIO(out)).getmembers()[0]
            want = (1000, 1000) if ref == "/made" else (0, 0)
            assert (member.uid, member.gid) == want, ref
        daemon.cli("stop", "-t", "0", name)  # a stopped one: its layers mounted without idmapping
        out = daemon.cli("cp", f"{name}:/made", "-", text=False).stdout
        assert tarfile.open(fileobj=io.BytesIO(out)).getmembers()[0].uid == 1000


def test_commit_and_export_write_the_containers_ids(daemon):
    name = unique_name("userns-commit")
    image = f"{name}:1"
    with container(daemon, "--userns=auto", "busybox", "sh", "-c",
                   "echo x > /made; chown 1000:1000 /made; touch /root-made; sleep 300", name=name):
        wait_until(lambda: daemon.cli("exec", name, "test", "-e", "/root-made", check=False).returncode == 0,
                   what="the files")
        exported = tarfile.open(fileobj=io.BytesIO(daemon.cli("export", name, text=False).stdout))
        owners = {m.name: (m.uid, m.gid) for m in exported.getmembers()}
        assert owners["made"] == (1000, 1000) and owners["root-made"] == (0, 0) and owners["bin/busybox"] == (0, 0)
        daemon.cli("commit", name, image)
    try:
        out = daemon.cli("run", "--rm", image, "stat", "-c", "%u:%g %n", "/made", "/root-made").stdout
        assert out.split("\n")[:2] == ["1000:1000 /made", "0:0 /root-made"]
    finally:
        daemon.cli("rmi", "-f", image, check=False)


def test_a_named_volume_is_the_containers_and_keeps_the_images_content(daemon):
    vol = unique_name("uvol")
    try:
        out = daemon.cli("run", "--rm", "--userns=auto", "-v", f"{vol}:/data", "-v", f"{vol}-etc:/etc", "busybox",
                         "sh", "-c", "touch /data/x /etc/y && stat -c '%u:%g' /data /data/x /etc /etc/passwd").stdout
        assert out.split() == ["0:0"] * 4
    finally:
        daemon.cli("volume", "rm", "-f", vol, f"{vol}-etc", check=False)
