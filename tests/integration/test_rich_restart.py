"""Rich containers run more than once: every rich mode survives stop/start, restart, kill then
start, a restart policy, pouchd restarts and a host reboot, again and again, with the same
services up, the hooks run on every start and stop, and the app's exit code kept each time.

Each container gets a host directory at /out: the prestart hook appends ``pre``, the app
``app``, the poststop hook ``post CODE REASON`` to /out/events; the ops agent appends
``beat`` to /out/beats."""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import Daemon, running_daemon, wait_for

SYSTEMD_IMAGE = "debian-systemd:bookworm"
SYSVINIT_IMAGE = "debian-sysvinit:test"
CYCLES = 3
PRE = "echo pre >> /out/events"
POST = 'echo "post $POUCH_EXIT_CODE $POUCH_EXIT_REASON" >> /out/events'
APP = "echo app >> /out/events; echo app-up; exec sleep 1000"
AGENT_UNIT = ("[Unit]\nDescription=ops agent\n[Service]\n"
              "ExecStart=/bin/sh -c 'echo beat >> /out/beats; exec sleep infinity'\n"
              "[Install]\nWantedBy=multi-user.target\n")
AGENT_SCRIPT = "#!/bin/sh\necho beat >> /out/beats\nsleep 0.2\n"


@dataclass(frozen=True)
class Mode:
    id: str
    image: str
    flags: tuple[str, ...]
    systemd: bool = False  # ops as a unit; systemd's own services checked
    boot_timeout: float = 30
    stop_code: int = 143  # the container's exit code after `pouch stop` (the app's SIGTERM)


MODES = [
    Mode("systemd", SYSTEMD_IMAGE, ("--rich-mode", "systemd"), systemd=True, boot_timeout=60,
         stop_code=0),  # systemd's own clean poweroff (the poststop hooks see the app's 143)
    Mode("busybox-init", "busybox", ("--rich-mode", "sbin-init")),
    Mode("sysvinit", SYSVINIT_IMAGE, ("--rich-mode", "sbin-init")),
    Mode("dumb-init", "busybox", ("--rich-mode", "dumb-init")),
]


@pytest.fixture(scope="module")
def d(tmp_path_factory, busybox_tar, debian_systemd_tar, debian_sysvinit_tar):
    """A daemon of this module's own: the tests kill it and start it again on the same root."""
    with running_daemon(str(tmp_path_factory.mktemp("pouchd-rich-restart")), busybox_tar) as daemon:
        daemon.cli("import", debian_systemd_tar, SYSTEMD_IMAGE, timeout=300)
        daemon.cli("import", debian_sysvinit_tar, SYSVINIT_IMAGE, timeout=300)
        yield daemon


@pytest.fixture(autouse=True)
def daemon_up(d):
    """A test that failed with pouchd killed leaves it started for the next one."""
    yield
    if d.proc is None:
        d.start()


@pytest.fixture
def out(tmp_path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def ops_dir(tmp_path: Path, mode: Mode) -> Path:
    ops = tmp_path / "ops"
    ops.mkdir()
    if mode.systemd:
        (ops / "ops-agent.service").write_text(AGENT_UNIT)
    else:
        agent = ops / "agent"
        agent.write_text(AGENT_SCRIPT)
        agent.chmod(0o755)
    return ops


def run_args(mode: Mode, out: Path, ops: Path, *extra: str) -> list[str]:
    return ["--rich", *mode.flags, "-v", f"{out}:/out", "--ops-dir", str(ops),
            "--prestart-hook", PRE, "--poststop-hook", POST, *extra, mode.image]


def events(out: Path) -> list[str]:
    try:
        return (out / "events").read_text().splitlines()
    except FileNotFoundError:
        return []


def beats(out: Path) -> int:
    try:
        return len((out / "beats").read_text().split())
    except FileNotFoundError:
        return 0


def state(d: Daemon, name: str) -> dict:
    return d.inspect(name)["State"]


def system_state(d: Daemon, name: str) -> str:
    return d.cli("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()


def check_up(d: Daemon, name: str, mode: Mode, out: Path, expected: list[str]) -> None:
    """The container runs, its hooks and app ran as ``expected`` says, and its services are up."""
    assert wait_for(lambda: events(out) == expected, mode.boot_timeout), (events(out), expected, d.cli(
        "logs", name, check=False).stdout[-3000:])
    assert state(d, name)["Status"] == "running"
    if mode.systemd:
        assert wait_for(lambda: system_state(d, name) in ("running", "degraded"), mode.boot_timeout), \
            d.cli("exec", name, "systemctl", "--failed", "--no-pager", check=False).stdout
        assert system_state(d, name) == "running", \
            d.cli("exec", name, "systemctl", "--failed", "--no-pager", check=False).stdout
        units = ["cron", "rsyslog", "ssh", "pouch-app", "ops-agent"]
        assert d.cli("exec", name, "systemctl", "is-active", *units, check=False).stdout.split() == ["active"] * 5
        links = d.cli("exec", name, "ls", "-l", "/etc/systemd/system/getty@tty1.service",
                      "/etc/systemd/system/console-getty.service").stdout
        assert links.count("-> /dev/null") == 2
        assert d.cli("exec", name, "cat", "/proc/1/comm").stdout.strip() == "systemd"
    else:
        before = beats(out)
        assert wait_for(lambda: beats(out) > before, 10), "the ops agent does not run (again)"
    if mode.id in ("busybox-init", "sysvinit"):
        assert d.cli("exec", name, "cat", "/proc/1/comm").stdout.strip() == "init"
        assert "/.pouch/rich/app.sh" in d.cli("exec", name, "cat", "/etc/inittab").stdout


def check_exited(d: Daemon, name: str, code: int) -> None:
    st = state(d, name)
    assert (st["Status"], st["ExitCode"]) == ("exited", code), st


def reboot(d: Daemon, name: str) -> None:
    """What a host reboot does: pouchd, the container's processes and its conmon die; pouchd starts again."""
    info = d.inspect(name)
    with open(os.path.join(d.exec_root, "bundles", info["Id"], "conmon.pid")) as f:
        conmon = int(f.read().strip())
    pid = info["State"]["Pid"]
    d.kill9()
    for p in (pid, conmon):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert wait_for(lambda: not os.path.exists(f"/proc/{conmon}") and not os.path.exists(f"/proc/{pid}"), 10)
    d.start()


@pytest.mark.parametrize("mode", MODES, ids=[m.id for m in MODES])
def test_stop_start_restart_kill_and_pouchd_restarts(d, mode, out, tmp_path):
    name = f"rr-{mode.id}"
    d.cli("run", "-d", "--name", name, *run_args(mode, out, ops_dir(tmp_path, mode)), "sh", "-c", APP,
          timeout=120)
    expected = ["pre", "app"]
    try:
        check_up(d, name, mode, out, expected)
        for _ in range(CYCLES):
            d.cli("stop", name, timeout=60)
            check_exited(d, name, mode.stop_code)
            d.cli("start", name, timeout=120)
            expected += ["post 143 stopped", "pre", "app"]
            check_up(d, name, mode, out, expected)

            d.cli("restart", name, timeout=120)
            expected += ["post 143 stopped", "pre", "app"]
            check_up(d, name, mode, out, expected)

            d.cli("kill", name)
            assert wait_for(lambda: state(d, name)["Status"] == "exited", 10)
            check_exited(d, name, 137)  # SIGKILL: no poststop hook can run
            d.cli("start", name, timeout=120)
            expected += ["pre", "app"]
            check_up(d, name, mode, out, expected)

            pid = state(d, name)["Pid"]
            d.kill9()  # pouchd dies; the container does not notice
            d.start()
            assert (state(d, name)["Status"], state(d, name)["Pid"]) == ("running", pid)
            check_up(d, name, mode, out, expected)
            d.cli("stop", name, timeout=60)  # still managed: stopped, started
            check_exited(d, name, mode.stop_code)
            d.cli("start", name, timeout=120)
            expected += ["post 143 stopped", "pre", "app"]
            check_up(d, name, mode, out, expected)
        assert d.inspect(name)["RestartCount"] == 0
    finally:
        d.cli("rm", "-f", name, check=False)


@pytest.mark.parametrize("mode", MODES, ids=[m.id for m in MODES])
def test_on_failure_policy_restarts_with_hooks_and_exit_code(d, mode, out, tmp_path):
    name = f"rp-{mode.id}"
    app = "echo app >> /out/events; sleep 1; exit 5"
    d.cli("run", "-d", "--name", name, *run_args(mode, out, ops_dir(tmp_path, mode), "--restart", "on-failure:3"),
          "sh", "-c", app, timeout=120)
    try:
        assert wait_for(lambda: d.inspect(name)["RestartCount"] == 3 and state(d, name)["Status"] == "exited",
                        4 * mode.boot_timeout), (d.inspect(name)["RestartCount"], events(out), state(d, name))
        check_exited(d, name, 5)
        assert events(out) == ["pre", "app", "post 5 exited"] * 4
    finally:
        d.cli("rm", "-f", name, check=False)


@pytest.mark.parametrize("mode", MODES, ids=[m.id for m in MODES])
def test_always_policy_brings_it_back_after_each_host_reboot(d, mode, out, tmp_path):
    """pouchd, the container's processes and its conmon all die, pouchd starts again on the same
    root: the `always` container comes back, each time."""
    name = f"ra-{mode.id}"
    d.cli("run", "-d", "--name", name, *run_args(mode, out, ops_dir(tmp_path, mode), "--restart", "always"),
          "sh", "-c", APP, timeout=120)
    expected = ["pre", "app"]
    try:
        check_up(d, name, mode, out, expected)
        for _ in range(CYCLES):
            reboot(d, name)
            expected += ["pre", "app"]
            assert wait_for(lambda: state(d, name)["Status"] == "running", mode.boot_timeout), state(d, name)
            check_up(d, name, mode, out, expected)
        d.cli("stop", name, timeout=60)
        check_exited(d, name, mode.stop_code)
        assert events(out)[-1] == "post 143 stopped"
    finally:
        d.cli("rm", "-f", name, check=False)


def test_systemd_start_repairs_what_an_earlier_start_left_and_follows_the_ops_dir(d, out, tmp_path):
    """A container an earlier pouchd left with /dev/null linked to itself in its layer (it replaced the
    image's /dev/null through the getty mask) starts, with /dev/null back; a unit gone from --ops-dir
    loses its links at the next start."""
    mode = MODES[0]
    ops = ops_dir(tmp_path, mode)
    (ops / "extra.service").write_text(AGENT_UNIT.replace("/out/beats", "/out/extra"))
    name = "rr-repair"
    cid = d.cli("run", "-d", "--name", name, *run_args(mode, out, ops), "sh", "-c", APP, timeout=120).stdout.strip()
    try:
        check_up(d, name, mode, out, ["pre", "app"])
        assert d.cli("exec", name, "systemctl", "is-active", "extra").stdout.strip() == "active"
        d.cli("stop", name, timeout=60)
        upper = Path(d.root, "snapshots", "containers", cid, "upper")
        assert not (upper / "dev" / "null").exists()  # the image's /dev/null was left alone
        (upper / "dev").mkdir(exist_ok=True)
        os.symlink("/dev/null", upper / "dev" / "null")
        (ops / "extra.service").unlink()
        d.cli("start", name, timeout=120)
        check_up(d, name, mode, out, ["pre", "app", "post 143 stopped", "pre", "app"])
        st = os.lstat(upper / "dev" / "null")
        assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
        units = d.cli("exec", name, "find", "/etc/systemd/system", "-name", "extra.service").stdout
        assert units == ""
    finally:
        d.cli("rm", "-f", name, check=False)
