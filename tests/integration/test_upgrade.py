"""``pouch upgrade``: a container's image replaced in place (id, name, address, published port,
volumes and rich options kept), rolled back when the new one cannot start, and settled by pouchd's
next start when pouchd is killed in the middle.

The images are made here with ``pouch commit``: ``app:v1`` and ``app:v2`` serve their version
over HTTP (busybox httpd) on port 80 and append ``app vN`` to /out/events when /out exists;
``app:broken``'s command is a binary that does not exist, ``app:exits``'s exits at once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import (
    POUCH,
    Daemon,
    free_port,
    free_test_subnet,
    running_daemon,
    unique_name,
    wait_for,
)
from tests.integration.test_disk_quota import loop_filesystem

APP = ("mkdir -p /www; cat /version > /www/index.html; "
       "if [ -d /out ]; then echo \"app $(cat /version)\" >> /out/events; fi; exec httpd -f -p 80 -h /www")
PRE = "echo pre >> /out/events"
POST = "echo post >> /out/events"


def make_images(d: Daemon) -> None:
    if "app:v1" in d.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        return
    for version in ("v1", "v2"):
        name = unique_name("build")
        d.cli("run", "--name", name, "busybox", "sh", "-c", f"echo {version} > /version")
        d.cli("commit", "--change", f'CMD ["sh", "-c", "{APP.replace(chr(34), chr(92) + chr(34))}"]',
              "--change", "EXPOSE 80", name, f"app:{version}")
        d.cli("rm", name)
    name = unique_name("build")
    d.cli("run", "--name", name, "busybox", "true")
    d.cli("commit", "--change", 'CMD ["/no/such/binary"]', name, "app:broken")
    d.cli("commit", "--change", 'CMD ["sh", "-c", "echo cannot start >&2; exit 3"]', name, "app:exits")
    d.cli("rm", name)


@pytest.fixture
def d(daemon: Daemon) -> Daemon:
    make_images(daemon)
    return daemon


def http_get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return response.read().decode().strip()


def serves(port: int, text: str, timeout: float = 15) -> bool:
    def ok() -> bool:
        try:
            return http_get(port) == text
        except OSError:
            return False
    return wait_for(ok, timeout)


def run_app(d: Daemon, name: str, port: int, *extra: str, image: str = "app:v1") -> str:
    volume = name + "-data"
    return d.cli("run", "-d", "--name", name, "-p", f"{port}:80", "-v", f"{volume}:/data", *extra, image).stdout.strip()


def seen(d: Daemon, name: str) -> dict:
    info = d.inspect(name)
    return {"id": info["Id"], "name": info["Name"], "ip": info["NetworkSettings"]["IPAddress"],
            "mac": info["NetworkSettings"]["MacAddress"], "ports": info["NetworkSettings"]["Ports"]}


def has_file(d: Daemon, name: str, path: str) -> bool:
    return d.cli("exec", name, "test", "-e", path, check=False).returncode == 0


def upgrade_events(d: Daemon, name: str, since: float) -> list[str]:
    out = d.cli("events", "--since", str(int(since)), "--until", str(int(time.time()) + 1),
                "--filter", f"container={name}", "--filter", "event=upgrade", "--format", "{{.Actor.Attributes.image}}")
    return out.stdout.split()


def test_a_running_container_is_upgraded_in_place_and_back(d: Daemon) -> None:
    name, port = unique_name("up"), free_port()
    run_app(d, name, port)
    assert serves(port, "v1")
    before = seen(d, name)
    d.cli("exec", name, "sh", "-c", "echo kept > /data/file; echo old > /layer-file")
    since = time.time()

    assert d.cli("upgrade", "--image", "app:v2", name).stdout.strip() == name
    assert serves(port, "v2"), d.cli("logs", name, check=False).stdout
    info = d.inspect(name)
    assert (info["Config"]["Image"], info["State"]["Status"]) == ("app:v2", "running")
    assert seen(d, name) == before  # id, name, address, MAC, published port
    assert d.cli("exec", name, "cat", "/data/file").stdout.strip() == "kept"  # the volume
    assert not has_file(d, name, "/layer-file")  # the old writable layer is discarded
    assert upgrade_events(d, name, since) == ["app:v2"]

    d.cli("upgrade", "--image", "app:v1", name)
    assert serves(port, "v1")
    assert seen(d, name) == before
    assert d.cli("exec", name, "cat", "/data/file").stdout.strip() == "kept"
    assert not any(n.startswith(before["id"] + ".") for n in os.listdir(os.path.join(d.root, "snapshots", "containers")))


def test_the_container_keeps_its_place_on_a_user_network(d: Daemon) -> None:
    net, name, peer = unique_name("net"), unique_name("up"), unique_name("peer")
    d.cli("network", "create", "--subnet", free_test_subnet(), net)
    d.cli("run", "-d", "--name", name, "--network", net, "--network-alias", "www", "app:v1")
    d.cli("run", "-d", "--name", peer, "--network", net, "busybox", "sleep", "1000")

    def alias_address() -> str:  # busybox-static's resolver cannot be used (static NSS): /etc/hosts read here
        hosts = d.cli("exec", peer, "cat", "/etc/hosts").stdout.splitlines()
        return next((line.split()[0] for line in hosts if "www" in line.split()[1:]), "")

    def fetch() -> str:  # busybox-static's wget crashes here: HTTP by hand over nc
        request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + alias_address() + " 80"
        answer = d.cli("exec", peer, "sh", "-c", request, check=False).stdout
        return answer.rstrip().rpartition("\n")[2].strip()

    def endpoint() -> dict:
        return d.inspect(name)["NetworkSettings"]["Networks"][net]

    assert wait_for(lambda: fetch() == "v1", 15)
    before = endpoint()
    d.cli("upgrade", "--image", "app:v2", name)
    assert wait_for(lambda: fetch() == "v2", 15)  # the peer finds it by its alias, where it was
    after = endpoint()
    assert (after["IPAddress"], after["MacAddress"]) == (before["IPAddress"], before["MacAddress"])
    assert alias_address() == after["IPAddress"]
    assert "www" in after["Aliases"]


def test_a_new_command_with_the_same_image(d: Daemon) -> None:
    name = unique_name("up")
    d.cli("run", "-d", "--name", name, "app:v1")
    d.cli("upgrade", name, "sh", "-c", "echo other > /www/index.html; exec sleep 1000")
    info = d.inspect(name)
    assert info["Config"]["Cmd"] == ["sh", "-c", "echo other > /www/index.html; exec sleep 1000"]
    assert info["State"]["Status"] == "running"


@pytest.mark.parametrize(("image", "why"), [
    ("app:broken", "/no/such/binary"),  # runc cannot start it
    ("app:exits", "exited with code 3 right after its start: cannot start"),  # it starts, and ends at once
])
def test_a_failed_start_rolls_back_to_the_old_container(d: Daemon, image: str, why: str) -> None:
    name, port = unique_name("up"), free_port()
    run_app(d, name, port, "--restart", "always")
    assert serves(port, "v1")
    before = seen(d, name)
    d.cli("exec", name, "sh", "-c", "echo old > /layer-file")

    failed = d.cli("upgrade", "--image", image, name, check=False)
    assert failed.returncode != 0
    assert f"upgrade to {image} failed, the container runs app:v1 again" in failed.stderr, failed.stderr
    assert why in failed.stderr, failed.stderr
    info = d.inspect(name)
    assert (info["Config"]["Image"], info["State"]["Status"]) == ("app:v1", "running")
    assert serves(port, "v1")
    assert seen(d, name) == before
    assert d.cli("exec", name, "cat", "/layer-file").stdout.strip() == "old"  # its writable layer is back


def test_a_stopped_container_stays_stopped(d: Daemon) -> None:
    name, port = unique_name("up"), free_port()
    run_app(d, name, port)
    d.cli("stop", name)
    d.cli("upgrade", "--image", "app:v2", name)
    info = d.inspect(name)
    assert (info["Config"]["Image"], info["State"]["Status"]) == ("app:v2", "exited")
    d.cli("start", name)
    assert serves(port, "v2")


def post_json(d: Daemon, path: str, body: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("localhost", timeout=60)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(d.sock)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_api_takes_pouchcontainers_body(d: Daemon) -> None:
    name = unique_name("up")
    d.cli("run", "-d", "--name", name, "app:v1")
    status, body = post_json(d, f"/v1.41/containers/{name}/upgrade",
                             {"Image": "app:v2", "Entrypoint": ["sh", "-c"], "Cmd": ["exec sleep 1000"]})
    assert (status, body) == (200, b"")
    config = d.inspect(name)["Config"]
    assert (config["Image"], config["Entrypoint"], config["Cmd"]) == ("app:v2", ["sh", "-c"], ["exec sleep 1000"])
    assert post_json(d, f"/containers/{unique_name('nosuch')}/upgrade", {"Image": "app:v2"})[0] == 404
    assert post_json(d, f"/containers/{name}/upgrade", {"Image": "app:v2"})[0] == 400  # nothing changes
    d.cli("pause", name)
    assert post_json(d, f"/containers/{name}/upgrade", {"Image": "app:v1"})[0] == 409
    d.cli("unpause", name)


def test_refusals(d: Daemon) -> None:
    name = unique_name("up")
    d.cli("run", "-d", "--name", name, "app:v1")
    same = d.cli("upgrade", "--image", "app:v1", name, check=False)
    assert same.returncode != 0 and "image not changed" in same.stderr
    missing = d.cli("upgrade", "--image", "app:nope", name, check=False)
    assert missing.returncode != 0 and "No such image" in missing.stderr
    d.cli("pause", name)
    paused = d.cli("upgrade", "--image", "app:v2", name, check=False)
    assert paused.returncode != 0 and "paused" in paused.stderr
    d.cli("unpause", name)
    assert d.inspect(name)["Config"]["Image"] == "app:v1"
    gone = d.cli("upgrade", "--image", "app:v2", unique_name("nosuch"), check=False)
    assert gone.returncode != 0 and "No such container" in gone.stderr


def events(out: Path) -> list[str]:
    try:
        return (out / "events").read_text().splitlines()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("mode", ["dumb-init", "sbin-init"])
def test_a_rich_container_is_upgraded_with_its_hooks(d: Daemon, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    name, port = unique_name("rich"), free_port()
    run_app(d, name, port, "--rich", "--rich-mode", mode, "-v", f"{out}:/out",
            "--prestart-hook", PRE, "--poststop-hook", POST, "-e", "TEAM=ops")
    assert wait_for(lambda: events(out) == ["pre", "app v1"], 20), events(out)
    assert serves(port, "v1")
    before = seen(d, name)

    d.cli("upgrade", "--image", "app:v2", name)
    assert wait_for(lambda: events(out) == ["pre", "app v1", "post", "pre", "app v2"], 20), events(out)
    assert serves(port, "v2")
    info = d.inspect(name)
    assert info["Config"]["Image"] == "app:v2"
    assert seen(d, name) == before
    assert "TEAM=ops" in d.cli("exec", name, "env").stdout
    if mode == "sbin-init":
        assert d.cli("exec", name, "cat", "/proc/1/comm").stdout.strip() == "init"

    failed = d.cli("upgrade", "--image", "app:broken", name, check=False)  # its app is not found
    assert failed.returncode != 0
    assert "exited with code 127" in failed.stderr, failed.stderr
    assert wait_for(lambda: events(out)[-2:] == ["pre", "app v2"], 20), events(out)
    assert events(out)[5:7] == ["post", "pre"]  # the v2 app stopped, the broken one's prestart hook
    assert [e for e in events(out)[5:] if e.startswith("app")] == ["app v2"]
    assert serves(port, "v2")
    assert d.inspect(name)["Config"]["Image"] == "app:v2"


@pytest.mark.parametrize("fs", ["btrfs", "ext4"])  # a qgroup per subvolume; a project id per directory
def test_the_disk_quota_goes_with_each_layer(tmp_path: Path, busybox_tar: str, fs: str) -> None:
    """The new writable layer gets the container's --disk-quota; a rollback brings the old one back with its own."""
    fill = "dd if=/dev/zero of=/more bs=1M count=12 2>&1; echo dd-exit=$?"
    with loop_filesystem(str(tmp_path), fs) as mnt, running_daemon(mnt, busybox_tar, ("--disk-quota",)) as d:
        make_images(d)
        name = unique_name("quota")
        cid = d.cli("run", "-d", "--name", name, "--disk-quota", "10m", "app:v1").stdout.strip()
        d.cli("exec", name, "sh", "-c", "dd if=/dev/zero of=/five bs=1M count=5")

        d.cli("upgrade", "--image", "app:v2", name)
        assert not has_file(d, name, "/five")  # a new layer: 8 MiB fit, 12 more do not
        assert "ok8" in d.cli("exec", name, "sh", "-c", "dd if=/dev/zero of=/eight bs=1M count=8 && echo ok8").stdout
        assert "dd-exit=1" in d.cli("exec", name, "sh", "-c", fill).stdout
        d.cli("exec", name, "rm", "-f", "/more")

        assert d.cli("upgrade", "--image", "app:broken", name, check=False).returncode != 0
        assert d.inspect(name)["Config"]["Image"] == "app:v2" and has_file(d, name, "/eight")
        assert "dd-exit=1" in d.cli("exec", name, "sh", "-c", fill).stdout  # still limited
        record = Path(d.root) / "containers" / cid / "disk-quota.json"
        assert json.loads(record.read_text())["limit"] == 10 << 20
        assert sorted(os.listdir(Path(d.root) / "containers")) == [cid]  # nothing set aside is left
        d.cli("rm", "-f", name)
        if fs == "btrfs":
            subvolumes = subprocess.run(["btrfs", "subvolume", "list", mnt], capture_output=True, text=True).stdout
            assert "snapshots/containers" not in subvolumes, subvolumes  # the old layers' ones too


# ----------------------------------------------------------------- a pouchd killed in the middle
@pytest.mark.parametrize(("point", "image", "expected", "status"), [
    ("upgrade-prepared", "app:v2", "v1", "exited"),  # journal written, nothing switched: the old one
    ("upgrade-switched", "app:v2", "v2", "exited"),  # the record and layer switched, not started: the new one
    ("upgrade-started", "app:v2", "v2", "running"),  # the new one runs (watched again), the old layer goes
    ("upgrade-rolling-back", "app:exits", "v1", "exited"),  # the new one failed: the old one
])
def test_a_pouchd_killed_mid_upgrade_leaves_the_old_or_the_new(tmp_path: Path, busybox_tar: str, point: str,
                                                              image: str, expected: str, status: str) -> None:
    with running_daemon(str(tmp_path / "d"), busybox_tar, ("--debug-faults", point)) as d:
        make_images(d)
        name, port = unique_name("crash"), free_port()
        cid = run_app(d, name, port)
        assert serves(port, "v1")
        d.cli("exec", name, "sh", "-c", "echo kept > /data/file; echo old > /layer-file")
        fault = Path(d.root) / "debug-faults" / point
        client = subprocess.Popen([POUCH, "upgrade", "--image", image, name], env=d.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_for(fault.exists, 30), d.read_log()
            second = d.cli("upgrade", "--image", "app:broken", name, check=False)
            assert second.returncode != 0 and "an upgrade of it is under way" in second.stderr, second.stderr
            assert d.proc is not None
            os.kill(d.proc.pid, signal.SIGKILL)  # by its PID, at the fault point
            d.proc.wait(10)
            d.proc = None
            assert client.wait(30) != 0
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            client.stdout.close()  # type: ignore[union-attr]
            client.stderr.close()  # type: ignore[union-attr]
        d.extra_args = ()
        d.start()

        info = d.inspect(name)
        assert info["Id"] == cid
        assert info["Config"]["Image"] == f"app:{expected}"
        assert info["State"]["Status"] == status
        assert not (Path(d.root) / "containers" / cid / "upgrade.json").exists()
        assert not any(n.startswith(cid + ".") for n in os.listdir(Path(d.root) / "snapshots" / "containers"))
        if status == "exited":
            d.cli("start", name)
        assert serves(port, expected), d.cli("logs", name, check=False).stdout
        assert d.cli("exec", name, "cat", "/data/file").stdout.strip() == "kept"
        assert has_file(d, name, "/layer-file") == (expected == "v1")  # rolled back: its own layer
        d.cli("rm", "-f", name)
        assert d.cli("ps", "-aq").stdout.strip() == ""


SD_APP = 'echo \\"app $(cat /version)\\" >> /out/events; exec sleep 1000'  # in the JSON of a CMD


def test_a_systemd_rich_container_is_upgraded_with_its_hooks(d: Daemon, tmp_path: Path, debian_systemd_tar: str) -> None:
    if "debian-systemd:bookworm" not in d.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        d.cli("import", debian_systemd_tar, "debian-systemd:bookworm", timeout=300)
    for version in ("v1", "v2"):
        build = unique_name("build")
        d.cli("run", "--name", build, "debian-systemd:bookworm", "sh", "-c", f"echo {version} > /version")
        d.cli("commit", "--change", f'CMD ["sh", "-c", "{SD_APP}"]', build, f"sd-app:{version}")
        d.cli("rm", build)
    out = tmp_path / "out"
    out.mkdir()
    name = unique_name("sd")
    d.cli("run", "-d", "--name", name, "--rich", "--rich-mode", "systemd", "-v", f"{out}:/out",
          "--prestart-hook", PRE, "--poststop-hook", POST, "sd-app:v1")
    assert wait_for(lambda: events(out) == ["pre", "app v1"], 90), events(out)
    before = seen(d, name)

    d.cli("upgrade", "--image", "sd-app:v2", name, timeout=240)
    assert wait_for(lambda: events(out) == ["pre", "app v1", "post", "pre", "app v2"], 60), events(out)
    assert seen(d, name) == before
    assert d.inspect(name)["Config"]["Image"] == "sd-app:v2"
    assert d.cli("exec", name, "cat", "/proc/1/comm").stdout.strip() == "systemd"
    state = d.cli("exec", name, "systemctl", "is-active", "pouch-app", check=False).stdout.strip()
    assert state == "active"
