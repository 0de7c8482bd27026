"""``pouch update --env``: every new process of the container sees the change — exec sessions
(rich or not), a restart, and in a rich container ssh sessions, non-interactive ones included."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import unique_name, wait_for


@pytest.fixture(scope="module")
def sysd(daemon, debian_systemd_tar):
    if "debian-systemd" not in daemon.cli("images").stdout:
        daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    return daemon


def exec_env(d, name: str) -> list[str]:
    return d.cli("exec", name, "env").stdout.splitlines()


def test_exec_and_the_next_start_see_update_env(daemon):
    name = unique_name("envx")
    d = daemon
    d.cli("run", "-d", "--name", name, "-e", "KEPT=1", "-e", "CHANGED=old", "busybox", "sleep", "1000")
    try:
        d.cli("update", "--env", "CHANGED=new", "--env", "ADDED=a b=c", name)
        env = exec_env(d, name)
        assert "CHANGED=new" in env and "ADDED=a b=c" in env and "KEPT=1" in env and "CHANGED=old" not in env
        assert "EXTRA=1" in d.cli("exec", "-e", "EXTRA=1", name, "env").stdout.splitlines()
        d.cli("restart", "-t", "1", name)
        for env in (exec_env(d, name), d.cli("exec", name, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ").stdout
                    .splitlines()):
            assert "CHANGED=new" in env and "ADDED=a b=c" in env and "KEPT=1" in env
    finally:
        d.cli("rm", "-f", name)


def test_exec_in_a_rich_container_sees_update_env_and_no_symlink_is_followed(daemon, tmp_path):
    name = unique_name("envr")
    d = daemon
    victims = [tmp_path / "environment", tmp_path / "profile"]
    for victim in victims:
        victim.write_text("the host's\n")
    d.cli("run", "-d", "--name", name, "--rich", "-e", "A=1", "busybox", "sleep", "1000")
    try:
        # the container's root plants links to host paths where pouchd writes the session env
        d.cli("exec", name, "sh", "-c", f"ln -sf {victims[0]} /etc/environment && "
              f"ln -sf {victims[1]} /etc/profile.d/pouch-env.sh")
        d.cli("update", "--env", "A=2", name)
        assert "A=2" in exec_env(d, name)
        assert [v.read_text() for v in victims] == ["the host's\n"] * 2
        files = d.cli("exec", name, "sh", "-c", "cat /etc/environment /etc/profile.d/pouch-env.sh").stdout
        assert "A=2" in files and "A='2'" in files
        assert d.cli("exec", name, "sh", "-c", "[ -L /etc/environment ] || echo regular").stdout == "regular\n"
    finally:
        d.cli("rm", "-f", name)


def _ssh(key: str, ip: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", key, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
         f"root@{ip}", command],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_ssh_sessions_in_a_systemd_rich_container_see_update_env(sysd, tmp_path):
    name = unique_name("envs")
    d = sysd
    key = str(tmp_path / "key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as f:
        public = f.read()
    d.cli("run", "-d", "--name", name, "--rich", "--rich-mode", "systemd", "-e", "GREETING=it's \"$x\" = ok",
          "-e", 'QUOTED="q"', "debian-systemd:bookworm", "sleep", "1000")
    try:
        d.cli("exec", "-i", name, "sh", "-c",
              "mkdir -p -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
              input=public)
        ip = d.inspect(name)["NetworkSettings"]["IPAddress"]
        show = 'printf "%s|%s|%s" "$GREETING" "$ADDED" "$QUOTED"'
        first = wait_for(lambda: (r := _ssh(key, ip, show)).returncode == 0 and r, timeout=30, interval=0.5)
        assert first, _ssh(key, ip, show).stderr
        assert first.stdout == "it's \"$x\" = ok||\"q\""
        d.cli("update", "--env", "ADDED=later value", "--env", "GREETING=changed", name)
        assert _ssh(key, ip, show).stdout == 'changed|later value|"q"'  # non-interactive: no login profile read
        login = d.cli("exec", name, "env", "-i", "bash", "-lc", show).stdout
        assert login == 'changed|later value|"q"'
        assert "ADDED=later value" in exec_env(d, name)
    finally:
        d.cli("rm", "-f", name)
