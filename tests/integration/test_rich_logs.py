"""A rich container's log is its app's output; its init's console goes to a log of its own
(``<root>/containers/<id>/init.log``, ``pouch logs --init``)."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import unique_name, wait_until

APP = "echo app-out; echo app-err >&2; exit 3"


@pytest.fixture(scope="module")
def sysd(daemon, debian_systemd_tar):
    if "debian-systemd" not in daemon.cli("images").stdout:
        daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    return daemon


def test_busybox_init_console_is_not_in_the_apps_log(daemon):
    name = unique_name("lgi")
    d = daemon
    run = d.cli("run", "--name", name, "--rich", "--rich-mode", "sbin-init", "busybox", "sh", "-c", APP, check=False)
    try:
        assert (run.returncode, run.stdout, run.stderr) == (3, "app-out\n", "app-err\n")
        logs = d.cli("logs", name)
        assert (logs.stdout, logs.stderr) == ("app-out\n", "app-err\n")
        init = d.cli("logs", "--init", name)
        assert "The system is going down NOW!" in init.stdout + init.stderr
        assert "app-out" not in init.stdout + init.stderr
        cid = d.inspect(name)["Id"]
        with open(os.path.join(d.root, "containers", cid, "init.log")) as f:
            assert "The system is going down NOW!" in f.read()
        d.cli("start", name)  # a second run appends to both logs, the app's log stays the app's
        d.cli("wait", name)
        assert d.cli("logs", name).stdout == "app-out\napp-out\n"
    finally:
        d.cli("rm", "-f", name)


def test_ops_components_write_to_the_init_log_not_the_apps(daemon, tmp_path):
    ops = tmp_path / "ops"
    ops.mkdir()
    (ops / "agent").write_text("#!/bin/sh\necho agent-beat\nsleep 100\n")
    (ops / "agent").chmod(0o755)
    d = daemon
    for mode in ("dumb-init", "sbin-init"):
        name = unique_name("lgo")
        d.cli("run", "-d", "--name", name, "--rich", "--rich-mode", mode, "--ops-dir", str(ops), "busybox",
              "sh", "-c", "echo app-out; sleep 100")
        try:
            wait_until(lambda n=name: "agent-beat" in d.cli("logs", "--init", n).stdout, what=f"{mode}: the agent's line")
            assert d.cli("logs", name).stdout == "app-out\n"
        finally:
            d.cli("rm", "-f", name)


def test_logs_init_of_a_plain_container_is_empty_and_follow_still_works(daemon):
    name = unique_name("lgp")
    d = daemon
    d.cli("run", "--name", name, "busybox", "echo", "plain")
    try:
        assert d.cli("logs", name).stdout == "plain\n"
        init = d.cli("logs", "--init", name)
        assert (init.returncode, init.stdout) == (0, "")
    finally:
        d.cli("rm", "-f", name)


def test_systemd_console_is_not_in_the_apps_log(sysd):
    name = unique_name("lgs")
    d = sysd
    run = d.cli("run", "--name", name, "--rich", "--rich-mode", "systemd", "--poststop-hook", "echo hook-out",
                "debian-systemd:bookworm", "sh", "-c", APP, check=False)
    try:
        assert (run.returncode, run.stdout, run.stderr) == (3, "app-out\nhook-out\n", "app-err\n")
        logs = d.cli("logs", name)
        assert (logs.stdout, logs.stderr) == ("app-out\nhook-out\n", "app-err\n")
        init = d.cli("logs", "--init", name).stdout
        assert "app-out" not in init
        if os.path.isdir("/sys/fs/cgroup/systemd"):  # cgroup v1: systemd complains on its console, apart
            assert "Failed to create symlink /sys/fs/cgroup/cpu: File exists" in init
        assert "Failed to create symlink" not in run.stdout + run.stderr
    finally:
        d.cli("rm", "-f", name)


def test_systemd_console_log_follows_and_services_still_start(sysd):
    name = unique_name("lgf")
    d = sysd
    d.cli("run", "-d", "--name", name, "--rich", "--rich-mode", "systemd", "debian-systemd:bookworm",
          "sh", "-c", "echo app-out; sleep 1000")
    try:
        wait_until(lambda: "app-out" in d.cli("logs", name).stdout, what="the app's line")
        assert d.cli("exec", name, "systemctl", "is-active", "cron", "ssh").stdout.split() == ["active"] * 2
        assert d.cli("exec", name, "sh", "-c", "[ -t 1 ] < /dev/console; readlink /dev/console").stdout.startswith(
            "/dev/pts/")
        d.cli("exec", name, "sh", "-c", "echo console-line > /dev/console")
        wait_until(lambda: "console-line" in d.cli("logs", "--init", "--tail", "5", name).stdout,
                   what="a line written to the console in the init log")
        assert "console-line" not in d.cli("logs", name).stdout
    finally:
        d.cli("rm", "-f", name)
