"""Rich containers in systemd mode, without --privileged: the image's systemd as pid 1,
the image's services up, the app as a unit whose output and exit code are the container's."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import unique_name, wait_until


@pytest.fixture(scope="module")
def sysd(daemon, debian_systemd_tar):
    if "debian-systemd" not in daemon.cli("images").stdout:
        daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    return daemon



def wait_running(daemon, name, timeout=30.0) -> tuple[str, float]:
    start = time.monotonic()
    state = ""
    while time.monotonic() - start < timeout:
        state = daemon.cli("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.1)
    return state, time.monotonic() - start


def test_systemd_boots_unprivileged_with_the_images_services(sysd):
    sd1 = unique_name("sd1")
    d = sysd
    cid = d.cli("run", "-d", "--name", sd1, "--rich", "--rich-mode", "systemd", "debian-systemd:bookworm",
                "sh", "-c", "echo app-is-up; sleep 1000").stdout.strip()
    try:
        state, _ = wait_running(d, sd1)
        assert state == "running", d.cli("exec", sd1, "systemctl", "--failed", "--no-pager", check=False).stdout
        assert d.cli("exec", sd1, "systemctl", "is-active", "cron", "rsyslog", "ssh").stdout.split() == ["active"] * 3
        assert d.inspect(sd1)["HostConfig"]["Privileged"] is False
        assert d.cli("exec", sd1, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        env = d.cli("exec", sd1, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ").stdout.split()
        assert "container=pouch" in env and f"container_uuid={cid[:32]}" in env
        assert d.cli("exec", sd1, "cat", "/etc/machine-id").stdout.strip() == cid[:32]
        mounts = d.cli("exec", sd1, "cat", "/proc/mounts").stdout
        for target in ("/run", "/run/lock", "/tmp", "/var/log/journal"):
            assert f"tmpfs {target} tmpfs" in mounts
        # systemd writes its own cgroup subtree, and sees no other container's
        assert d.cli("exec", sd1, "sh", "-c", "grep name=systemd /proc/1/cgroup").stdout.strip().endswith(":/init.scope")
        tree = d.cli("exec", sd1, "ls", "/sys/fs/cgroup/systemd").stdout.split()
        assert "system.slice" in tree and "pouch" not in tree
        wait_until(lambda: "app-is-up" in d.cli("logs", sd1).stdout, what="the app's first line")
        assert d.cli("exec", sd1, "systemctl", "is-active", "pouch-app").stdout.strip() == "active"
    finally:
        d.cli("rm", "-f", sd1)


def test_app_env_user_workdir_and_exit_code_become_the_containers(sysd):
    sd2 = unique_name("sd2")
    d = sysd
    d.cli("run", "-d", "--name", sd2, "--rich", "--rich-mode", "systemd", "-e", 'TRICKY=a "b" $c=d e',
          "-u", "nobody", "-w", "/tmp", "debian-systemd:bookworm",
          "sh", "-c", 'echo "as $(id -un) in $(pwd): $TRICKY"; exit 7')
    try:
        d.cli("wait", sd2, timeout=60)
        state = d.inspect(sd2)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 7)
        assert 'as nobody in /tmp: a "b" $c=d e\n' in d.cli("logs", sd2).stdout
    finally:
        d.cli("rm", "-f", sd2)


def test_stop_uses_sigrtmin3_and_poststop_hooks_see_it(sysd, tmp_path):
    sd3 = unique_name("sd3")
    d = sysd
    out = tmp_path / "out"
    out.mkdir()
    d.cli("run", "-d", "--name", sd3, "--rich", "--rich-mode", "systemd", "-v", f"{out}:/out",
          "--prestart-hook", "echo prepared > /tmp/prepared",
          "--poststop-hook", 'echo "$POUCH_EXIT_CODE $POUCH_EXIT_REASON" > /out/poststop',
          "debian-systemd:bookworm", "sh", "-c", "cat /tmp/prepared; exec sleep 1000")
    try:
        wait_running(d, sd3)
        start = time.monotonic()
        d.cli("stop", sd3, timeout=60)
        assert time.monotonic() - start < 9  # a clean systemd shutdown, not the SIGKILL after 10 s
        assert (out / "poststop").read_text() == "143 stopped\n"
        assert "prepared" in d.cli("logs", sd3).stdout
    finally:
        d.cli("rm", "-f", sd3)


def test_failing_prestart_hook_fails_the_start(sysd):
    sd4 = unique_name("sd4")
    d = sysd
    result = d.cli("run", "-d", "--name", sd4, "--rich", "--rich-mode", "systemd", "--prestart-hook",
                   "echo no-config; exit 3", "debian-systemd:bookworm", "sh", "-c", "echo app-ran", check=False)
    try:
        assert result.returncode != 0 and "no-config" in result.stderr and "exit code 3" in result.stderr
        assert "app-ran" not in d.cli("logs", sd4).stdout
    finally:
        d.cli("rm", "-f", sd4)


def test_ops_units_start_beside_the_app(sysd, tmp_path):
    sd5 = unique_name("sd5")
    d = sysd
    ops = tmp_path / "ops"
    ops.mkdir()
    (ops / "ops-agent.service").write_text(
        "[Unit]\nDescription=ops agent\n[Service]\nExecStart=/bin/sh -c 'echo agent-on > /run/agent; exec sleep infinity'\n"
        "[Install]\nWantedBy=multi-user.target\n")
    d.cli("run", "-d", "--name", sd5, "--rich", "--rich-mode", "systemd", "--ops-dir", str(ops),
          "debian-systemd:bookworm", "sleep", "1000")
    try:
        wait_running(d, sd5)
        assert d.cli("exec", sd5, "systemctl", "is-active", "ops-agent").stdout.strip() == "active"
        assert d.cli("exec", sd5, "cat", "/run/agent").stdout == "agent-on\n"
    finally:
        d.cli("rm", "-f", sd5)


def test_sbin_init_mode_with_systemd_image_is_systemd_mode(sysd):
    sd6 = unique_name("sd6")
    d = sysd
    d.cli("run", "-d", "--name", sd6, "--rich", "--rich-mode", "sbin-init", "debian-systemd:bookworm",
          "sleep", "1000")
    try:
        state, _ = wait_running(d, sd6)
        assert state == "running"
        assert d.cli("exec", sd6, "cat", "/proc/1/cmdline").stdout.split("\0")[0] == "/sbin/init"
    finally:
        d.cli("rm", "-f", sd6)


def test_unknown_user_is_a_clear_error(sysd):
    sd7 = unique_name("sd7")
    d = sysd
    result = d.cli("run", "--name", sd7, "--rich", "--rich-mode", "systemd", "-u", "4242",
                   "debian-systemd:bookworm", "true", check=False)
    try:
        assert result.returncode != 0 and "4242" in result.stderr and "passwd" in result.stderr
    finally:
        d.cli("rm", "-f", sd7)


def test_login_sessions_see_the_environment_and_update_changes_it(sysd):
    sd8 = unique_name("sd8")
    d = sysd
    d.cli("run", "-d", "--name", sd8, "--rich", "--rich-mode", "systemd", "-e", "GREETING=it's a \"$test\" = ok",
          "debian-systemd:bookworm", "sleep", "1000")
    try:
        login = ["exec", sd8, "env", "-i", "bash", "-lc", 'printf "%s|%s" "$GREETING" "$ADDED"']
        assert d.cli(*login).stdout == "it's a \"$test\" = ok|"
        d.cli("update", "--env", "ADDED=later value", sd8)
        assert d.cli(*login).stdout == "it's a \"$test\" = ok|later value"
        assert "ADDED=later value" in d.inspect(sd8)["Config"]["Env"]
        assert d.cli("update", "--env", "=bad", sd8, check=False).returncode != 0
    finally:
        d.cli("rm", "-f", sd8)
