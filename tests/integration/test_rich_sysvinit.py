"""Rich containers in sbin-init mode with sysvinit (Debian's sysvinit-core) as pid 1: the app
as an inittab entry whose output, exit code, env, user and workdir are the container's; hooks;
ops; a stop within the timeout (the host-side reaper ends init, which cannot end itself)."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import unique_name, wait_for

IMAGE = "debian-sysvinit:test"


@pytest.fixture(scope="module")
def d(daemon, debian_sysvinit_tar):
    daemon.cli("import", debian_sysvinit_tar, IMAGE, timeout=300)
    yield daemon
    daemon.remove_all_containers()
    daemon.cli("rmi", IMAGE, check=False)



def sbin_init(*args: str) -> list[str]:
    return ["--rich", "--rich-mode", "sbin-init", *args]




def test_sysvinit_is_pid_1_and_the_app_its_output_and_code_the_containers(d):
    sv1 = unique_name("sv1")
    sv2 = unique_name("sv2")
    d.cli("run", "-d", "--name", sv1, *sbin_init(), IMAGE, "sh", "-c", "echo app-is-up; sleep 1000")
    try:
        assert wait_for(lambda: "app-is-up" in d.cli("logs", sv1).stdout, 15)
        assert d.cli("exec", sv1, "cat", "/proc/1/comm").stdout.strip() == "init"
        assert d.cli("exec", sv1, "readlink", "/proc/1/exe").stdout.strip() == "/usr/sbin/init"
        assert d.cli("exec", sv1, "sh", "-c", "grep -c INIT_VERSION=sysvinit /proc/1/exe").stdout.strip() == "1"
        inittab = d.cli("exec", sv1, "cat", "/etc/inittab").stdout
        assert "Pa:2345:once:/.pouch/bin/busybox sh /.pouch/rich/app.sh" in inittab
        assert "si::sysinit:/etc/init.d/rcS" in inittab and "l2:2:wait:/etc/init.d/rc 2" in inittab
        assert "getty" not in inittab and "l0:" not in inittab
        assert d.cli("exec", sv1, "sh", "-c", "echo x >> /etc/inittab || echo ro").stdout.strip().endswith("ro")
        assert "app-is-up\r" not in d.cli("logs", sv1).stdout  # the console's onlcr is off for the app
    finally:
        d.cli("rm", "-f", sv1)
    out = d.cli("run", "--name", sv2, *sbin_init(), IMAGE, "sh", "-c", "echo bye; exit 7", check=False)
    try:
        assert out.returncode == 7 and "bye" in out.stdout
        state = d.inspect(sv2)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 7)
    finally:
        d.cli("rm", "-f", sv2)


def test_app_env_user_and_workdir(d):
    out = d.cli("run", "--rm", *sbin_init(), "-e", "TRICKY=a 'b' $c=d e", "-u", "1000:1000", "-w", "/srv",
                IMAGE, "sh", "-c", 'echo "$(id -u):$(id -g) in $(pwd): $TRICKY"; '
                'grep -c "^CapEff:.0000000000000000$" /proc/self/status').stdout
    assert "1000:1000 in /srv: a 'b' $c=d e\n1\n" in out


def test_prestart_hook_runs_before_the_app_and_a_failing_one_fails_the_start(d):
    sv_fail = unique_name("sv-fail")
    out = d.cli("run", "--rm", *sbin_init("--prestart-hook", "echo prepared > /tmp/order; id -u >> /tmp/order"),
                "-u", "1000", IMAGE, "sh", "-c", "cat /tmp/order; id -u").stdout
    assert "prepared\n0\n1000\n" in out
    result = d.cli("run", "--name", sv_fail, *sbin_init("--prestart-hook", "echo cannot-prepare; exit 5"),
                   IMAGE, "sh", "-c", "echo app-ran", check=False)
    try:
        assert result.returncode != 0
        assert "exit code 5" in result.stderr and "cannot-prepare" in result.stderr
        assert "app-ran" not in result.stdout
    finally:
        d.cli("rm", "-f", sv_fail)


def test_poststop_hooks_see_exited_and_stopped_and_stop_is_clean(d, tmp_path):
    sv_stop = unique_name("sv-stop")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hook = 'echo "$POUCH_EXIT_CODE $POUCH_EXIT_REASON" >> /out/reasons'
    result = d.cli("run", "--rm", *sbin_init("--poststop-hook", hook), "-v", f"{out_dir}:/out", IMAGE,
                   "sh", "-c", "exit 4", check=False)
    assert result.returncode == 4
    d.cli("run", "-d", "--name", sv_stop, *sbin_init("--poststop-hook", hook), "-v", f"{out_dir}:/out",
          IMAGE, "sh", "-c", "trap 'echo got-term; exit 9' TERM; while true; do sleep 0.1; done")
    try:
        assert wait_for(lambda: d.cli("exec", sv_stop, "test", "-e", "/.pouch/run/app.pid",
                                      check=False).returncode == 0, 15)
        start = time.monotonic()
        d.cli("stop", "-t", "8", sv_stop)
        assert time.monotonic() - start < 7, "pouch stop fell back to SIGKILL"
        state = d.inspect(sv_stop)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 9)
        assert "got-term" in d.cli("logs", sv_stop).stdout
    finally:
        d.cli("rm", "-f", sv_stop)
    assert (out_dir / "reasons").read_text().splitlines() == ["4 exited", "9 stopped"]


def test_init_alone_stops_cleanly(d):
    sv_init = unique_name("sv-init")
    d.cli("run", "-d", "--name", sv_init, *sbin_init(), IMAGE, "/sbin/init")
    try:
        assert wait_for(lambda: "runlevel: 2" in d.cli("logs", sv_init).stdout, 15)
        start = time.monotonic()
        d.cli("stop", "-t", "8", sv_init)
        assert time.monotonic() - start < 7
        assert d.inspect(sv_init)["State"]["ExitCode"] == 0
    finally:
        d.cli("rm", "-f", sv_init)


def test_ops_components_run_and_are_respawned(d, tmp_path):
    sv_ops = unique_name("sv-ops")
    ops = tmp_path / "ops"
    ops.mkdir()
    agent = ops / "agent"
    agent.write_text("#!/bin/sh\necho beat >> /tmp/agent.log\nsleep 0.2\n")
    agent.chmod(0o755)
    (ops / "README").write_text("not executable: not started\n")
    d.cli("run", "-d", "--name", sv_ops, *sbin_init("--ops-dir", str(ops)), IMAGE, "sleep", "100")
    try:
        assert wait_for(lambda: len(d.cli("exec", sv_ops, "cat", "/tmp/agent.log", check=False).stdout.split()) >= 2, 15)
        assert "README" not in d.cli("exec", sv_ops, "cat", "/etc/inittab").stdout
    finally:
        d.cli("rm", "-f", sv_ops)
