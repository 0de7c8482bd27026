"""The runtime driver (Runtimes and its OCIRuntime handlers) against real conmon + runc (root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pouch import errors
from pouch.config import DaemonConfig
from pouch.runtime import _proc
from pouch.runtime.logs import read_logs
from pouch.runtime.registry import Runtimes
from pouch.runtime.runc import OCIRuntimeError, Runc
from pouch.stdio import StreamKind

pytestmark = pytest.mark.needs_root


def test_exit_code_and_log(harness):
    cid, created = harness.create(["sh", "-c", "echo hello; echo oops >&2; exit 7"])
    assert created.pid > 0 and created.conmon_pid > 0
    assert harness.runtime.state(cid)["status"] == "created"
    harness.runtime.start(cid)
    status = harness.wait_exit(cid)
    assert status.code == 7
    assert abs(status.finished_at - time.time()) < 10
    assert harness.runtime.wait_conmon(created.conmon_pid, 5)
    entries = list(read_logs(harness.log_path(cid)))
    assert [(e.stream, e.data) for e in entries] == [("stdout", b"hello\n"), ("stderr", b"oops\n")]
    assert harness.runtime.state(cid)["status"] == "stopped"
    harness.runtime.delete(cid)
    assert harness.runtime.state(cid) is None
    assert harness.runtime.exit_status(cid) is None
    harness.runtime.delete(cid)  # idempotent


def test_timing_true(harness, capsys):
    t0 = time.monotonic()
    cid, created = harness.create(["true"])
    t1 = time.monotonic()
    harness.runtime.start(cid)
    t2 = time.monotonic()
    assert harness.wait_exit(cid).code == 0
    assert harness.runtime.wait_conmon(created.conmon_pid, 5)
    t3 = time.monotonic()
    harness.runtime.delete(cid)
    t4 = time.monotonic()
    with capsys.disabled():
        print(f"\n[timing true] create {t1 - t0:.3f}s start {t2 - t1:.3f}s exit-file {t3 - t2:.3f}s "
              f"delete {t4 - t3:.3f}s total {t4 - t0:.3f}s")


def test_attach_before_start_sees_everything(harness):
    cid, _ = harness.create(["sh", "-c", "echo hello; echo oops >&2"])
    with harness.runtime.attach(cid) as conn:
        harness.runtime.start(cid)
        chunks = list(conn)
    out = b"".join(c.data for c in chunks if c.kind == StreamKind.STDOUT)
    err = b"".join(c.data for c in chunks if c.kind == StreamKind.STDERR)
    assert out == b"hello\n"
    assert err == b"oops\n"
    assert harness.wait_exit(cid).code == 0


def test_stdin_reaches_cat(harness):
    cid, _ = harness.create(["cat"], stdin=True)
    conn = harness.runtime.attach(cid)
    harness.runtime.start(cid)
    conn.send(b"ping\n")
    conn.send(b"pong\n")
    conn.close_stdin()
    out, err = conn.read_all()
    conn.close()
    assert out == b"ping\npong\n"
    assert err == b""
    assert harness.wait_exit(cid).code == 0


def test_kill_sigterm(harness):
    # Not PID 1 (no pid namespace): the default SIGTERM disposition applies.
    cid, created = harness.create(["sleep", "1000"], spec_opts={"pid_ns": False})
    harness.runtime.start(cid)
    assert harness.runtime.state(cid)["status"] == "running"
    assert created.pid in harness.runtime.processes(cid)
    harness.runtime.kill(cid, "SIGTERM")
    status = harness.wait_exit(cid)
    assert status.code == 143 and status.signal == 15


def test_kill_sigkill_pid1(harness):
    cid, _ = harness.create(["sleep", "1000"])
    harness.runtime.start(cid)
    harness.runtime.kill(cid, 9)
    assert harness.wait_exit(cid).code == 137


def test_pause_resume(harness):
    cid, _ = harness.create(["sleep", "1000"])
    harness.runtime.start(cid)
    harness.runtime.pause(cid)
    assert harness.runtime.state(cid)["status"] == "paused"
    with pytest.raises(errors.Conflict):
        harness.runtime.pause(cid)
    harness.runtime.resume(cid)
    assert harness.runtime.state(cid)["status"] == "running"
    harness.runtime.delete(cid, force=True)
    assert harness.runtime.state(cid) is None
    assert not harness.conmons()


def test_missing_container_errors(harness):
    with pytest.raises(errors.NotFound):
        harness.runtime.start("nope")
    with pytest.raises(errors.NotFound):
        harness.runtime.kill("nope", "TERM")
    assert harness.runtime.state("nope") is None
    harness.runtime.delete("nope")
    assert harness.runtime.exit_status("nope") is None


def _assert_nothing_left(harness, cid):
    assert harness.runtime.list() == []
    assert harness.runtime.state(cid) is None
    assert not harness.conmons()
    bundle = harness.config.bundle_dir(cid)
    assert sorted(os.listdir(bundle)) == ["config.json"]
    assert not os.path.exists(harness.runtime.exit_file(cid))
    assert os.listdir(harness.config.sockets_dir) == []


def test_failed_create_missing_binary(harness):
    cid = harness.bundle(["/bin/does-not-exist"])
    with pytest.raises(OCIRuntimeError) as info:
        harness.runtime.create(cid, harness.log_path(cid))
    assert "does-not-exist" in str(info.value)
    assert info.value.exit_code_hint == 127
    _assert_nothing_left(harness, cid)


def test_failed_create_broken_config(harness):
    cid = harness.bundle([], raw_config='{"ociVersion": "1.0.2", "process": ')
    with pytest.raises(OCIRuntimeError) as info:
        harness.runtime.create(cid, harness.log_path(cid))
    assert "unexpected EOF" in str(info.value)  # runc's own words for the truncated JSON
    assert info.value.exit_code_hint is None
    _assert_nothing_left(harness, cid)


def test_failed_create_missing_runtime(harness, config, rootfs):
    from dataclasses import replace

    bad = Runtimes.from_config(replace(config, runtimes={"runc": "/nonexistent/runc"}))
    cid = harness.bundle(["true"])
    with pytest.raises(OCIRuntimeError, match="not found"):
        bad.create(cid, harness.log_path(cid))
    assert not harness.conmons()


def test_create_without_bundle(harness):
    with pytest.raises(errors.InvalidArgument):
        harness.runtime.create("nobundle", "/tmp/x.log")


def test_tty_and_resize(harness):
    # conmon reads its ctl fifo asynchronously: the container waits (2 s at most) for the size to arrive
    script = ('tty; i=0; while [ "$(stty size)" != "30 100" ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; '
              'stty size; echo done')
    cid, _ = harness.create(["sh", "-c", script], tty=True)
    harness.runtime.resize(cid, 30, 100)
    with harness.runtime.attach(cid) as conn:
        harness.runtime.start(cid)
        out, err = conn.read_all()
    assert err == b""
    lines = out.replace(b"\r\n", b"\n").splitlines()
    assert lines[0].startswith(b"/dev/pts/")
    assert lines[1] == b"30 100"
    assert lines[2] == b"done"
    assert harness.wait_exit(cid).code == 0


def test_exec_output_and_exit_code(harness):
    cid, _ = harness.create(["sleep", "1000"])
    harness.runtime.start(cid)
    proc = {"args": ["sh", "-c", "echo out; echo err >&2; exit 3"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0}}
    handle = harness.runtime.exec_process(cid, proc)
    assert handle.connection is not None
    assert len(os.path.join(handle.directory, "attach")) > 108  # beyond sun_path: --full-attach + /proc/self/fd
    out, err = handle.connection.read_all()
    assert (out, err) == (b"out\n", b"err\n")
    assert handle.wait(10) == 3
    assert handle.exit_code() == 3
    assert harness.runtime.wait_conmon(handle.conmon_pid, 5)
    handle.remove()

    # stdin + detached variants
    h2 = harness.runtime.exec_process(cid, dict(proc, args=["cat"]), stdin=True)
    h2.connection.send(b"via exec\n")
    h2.connection.close_stdin()
    assert h2.connection.read_all() == (b"via exec\n", b"")
    assert h2.wait(10) == 0
    h2.remove()

    h3 = harness.runtime.exec_process(cid, dict(proc, args=["sh", "-c", "exit 5"]), detach=True)
    assert h3.connection is None
    assert h3.wait(10) == 5
    h3.remove()

    with pytest.raises(OCIRuntimeError) as info:
        harness.runtime.exec_process(cid, dict(proc, args=["/bin/nope"]))
    assert "/bin/nope" in str(info.value) and info.value.exit_code_hint == 127
    assert harness.runtime.state(cid)["status"] == "running"
    exec_root = os.path.join(harness.config.bundle_dir(cid), "exec")
    assert os.listdir(exec_root) == []
    assert [p for p in harness.conmons() if "--exec" in (_proc.read_cmdline(p) or [])] == []


def test_exec_tty(harness):
    cid, _ = harness.create(["sleep", "1000"])
    harness.runtime.start(cid)
    proc = {"args": ["sh", "-c", "tty; echo hi"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    handle = harness.runtime.exec_process(cid, proc, tty=True)
    out, _ = handle.connection.read_all()
    assert b"/dev/pts/" in out and b"hi" in out
    assert handle.wait(10) == 0
    handle.remove()


def test_exec_not_running(harness):
    cid, _ = harness.create(["true"])
    with pytest.raises(errors.Conflict):
        harness.runtime.exec_process(cid, {"args": ["true"], "cwd": "/"})


def test_container_survives_its_creator(harness, config):
    cid = harness.bundle(["sleep", "1000"])
    code = f"""
import sys
from pouch.config import DaemonConfig
from pouch.runtime.registry import Runtimes
rt = Runtimes.from_config(DaemonConfig(root={config.root!r}, exec_root={config.exec_root!r}))
c = rt.create({cid!r}, {harness.log_path(cid)!r})
rt.start({cid!r})
print(c.conmon_pid, c.pid)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    conmon_pid, pid = map(int, res.stdout.split())
    # the creator is gone; conmon and the container are still there
    assert harness.runtime.conmon_alive(conmon_pid, cid)
    assert not harness.runtime.conmon_alive(conmon_pid, "some-other-id")
    assert harness.runtime.conmon_pid(cid) == conmon_pid
    assert harness.runtime.state(cid)["status"] == "running"
    assert harness.runtime.state(cid)["pid"] == pid
    assert not harness.runtime.wait_conmon(conmon_pid, 0.2)
    harness.runtime.kill(cid, "KILL")
    assert harness.runtime.wait_conmon(conmon_pid, 10)
    assert harness.runtime.exit_status(cid).code == 137
    assert not harness.runtime.conmon_alive(conmon_pid, cid)


def test_daemons_do_not_share_state(harness, tmp_path):
    cid, _ = harness.create(["sleep", "1000"])
    other = Runtimes.from_config(DaemonConfig(root=str(tmp_path / "r2"), exec_root=str(tmp_path / "x2")))
    assert other.list() == []
    assert other.state(cid) is None
    assert [c["id"] for c in harness.runtime.list()] == [cid]


def test_restart_same_id(harness):
    cid, _ = harness.create(["sh", "-c", "exit 3"])
    harness.runtime.start(cid)
    assert harness.wait_exit(cid).code == 3
    harness.runtime.default.runc.delete(cid)  # like a restart: delete runtime state, keep bundle
    created = harness.runtime.create(cid, harness.log_path(cid))
    assert harness.runtime.exit_status(cid) is None  # the stale exit file is gone
    harness.runtime.start(cid)
    assert harness.wait_exit(cid).code == 3
    assert harness.runtime.wait_conmon(created.conmon_pid, 5)


def test_oom_killed(harness):
    cid, created = harness.create(["sh", "-c", "tail /dev/zero"],
                                  spec_opts={"memory_limit": 16 * 1024 * 1024})
    harness.runtime.start(cid)
    status = harness.wait_exit(cid, timeout=30)
    assert status.code == 137
    # conmon may write its oom file after the exit file: pouchd reads both once conmon is gone
    assert harness.runtime.wait_conmon(created.conmon_pid, 5)
    assert harness.runtime.oom_killed(cid)


def test_not_oom_killed(harness):
    cid, _ = harness.create(["true"])
    harness.runtime.start(cid)
    harness.wait_exit(cid)
    assert not harness.runtime.oom_killed(cid)


def test_log_size_max_rotation(harness):
    cid, created = harness.create(["sh", "-c", "seq 1 400"], log_max_size=2000)
    harness.runtime.start(cid)
    harness.wait_exit(cid)
    assert harness.runtime.wait_conmon(created.conmon_pid, 5)
    path = harness.log_path(cid)
    assert os.path.getsize(path) <= 2000
    lines = [e.data for e in read_logs(path)]
    assert lines and lines[-1] == b"400\n"
    nums = [int(x) for x in lines]
    assert nums == list(range(nums[0], 401))  # a contiguous tail: older output was dropped


def test_follow_logs_until_exit(harness):
    cid, _ = harness.create(["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done; printf tail"],
                            log_max_size=0)
    got = []
    harness.runtime.start(cid)
    for entry in read_logs(harness.log_path(cid), follow=True,
                           should_stop=lambda: harness.runtime.exit_status(cid) is not None):
        got.append(entry.data)
    assert got == [b"line1\n", b"line2\n", b"line3\n", b"line4\n", b"line5\n", b"tail"]


def test_follow_logs_across_rotation(harness):
    script = "i=0; while [ $i -lt 60 ]; do echo row$i; i=$((i+1)); sleep 0.02; done"
    cid, _ = harness.create(["sh", "-c", script], log_max_size=600)
    harness.runtime.start(cid)
    got = [e.data for e in read_logs(harness.log_path(cid), follow=True, poll_interval=0.01,
                                     should_stop=lambda: harness.runtime.exit_status(cid) is not None)]
    assert got == [f"row{i}\n".encode() for i in range(60)]


def test_conmon_alive_rejects_other_processes(harness):
    assert not harness.runtime.conmon_alive(os.getpid(), "x")
    assert not harness.runtime.conmon_alive(2**22 + 7, "x")
    assert harness.runtime.wait_conmon(2**22 + 7, 0.1)
    assert _proc.read_cmdline(os.getpid())


def test_create_accepts_service_keywords(harness):
    """The container service passes bundle_dir and the runtime's name explicitly."""
    cid = harness.bundle(["sh", "-c", "exit 4"])
    rt = harness.runtime
    created = rt.create(cid, log_path=harness.log_path(cid), bundle_dir=harness.config.bundle_dir(cid),
                        runtime="runc", log_max_size=4096)
    rt.start(cid)
    assert harness.wait_exit(cid).code == 4
    assert rt.wait_conmon(created.conmon_pid, 5)
    with pytest.raises(errors.InvalidArgument):
        rt.create(cid, harness.log_path(cid), bundle_dir="/elsewhere")


def test_second_runtime_name_has_its_own_root(harness, config, rootfs):
    from dataclasses import replace

    rt = Runtimes.from_config(replace(config, runtimes={"runc": "/usr/bin/runc", "runc2": "/usr/bin/runc"}))
    harness.runtime = rt
    cid = harness.bundle(["sleep", "1000"])
    rt.create(cid, harness.log_path(cid))  # none named: the default, "runc"
    cid2 = harness.bundle(["sleep", "1000"])
    rt.create(cid2, harness.log_path(cid2), runtime="runc2")
    assert rt.handler_for(cid).name == "runc" and rt.handler_for(cid2).name == "runc2"
    runc2_root = os.path.join(config.exec_root, "runtime", "runc2")
    assert rt.handler_for(cid2).runc.root == runc2_root
    assert Runc("/usr/bin/runc", runc2_root).state(cid2)["status"] == "created"  # in runc2's own state root
    assert rt.handlers["runc"].state(cid2) is None  # and not in runc's
    assert rt.state(cid2)["status"] == "created"  # found through the recorded handler
    assert sorted(c["id"] for c in rt.list()) == sorted([cid, cid2])
    rt.delete(cid2, force=True)
    rt.delete(cid, force=True)
    assert rt.list() == []


def _pids_max(cid: str) -> str:
    cgroup = f"pouch-test-{os.getpid()}/{cid[:16]}"  # conftest's CGROUP_PARENT
    for path in (f"/sys/fs/cgroup/{cgroup}/pids.max", f"/sys/fs/cgroup/pids/{cgroup}/pids.max"):
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
    raise AssertionError(f"no pids cgroup for {cid}")


def test_every_operation_goes_to_the_containers_handler(harness, config):
    """start, pause, resume, update, exec, kill and delete of a runc2 container act in runc2's state root."""
    from dataclasses import replace

    rt = Runtimes.from_config(replace(config, runtimes={"runc": "/usr/bin/runc", "runc2": "/usr/bin/runc"},
                                      default_runtime="runc2"))
    harness.runtime = rt
    cid = harness.bundle(["sleep", "1000"])
    rt.create(cid, harness.log_path(cid))  # none named: the default, now "runc2"
    runc2 = Runc("/usr/bin/runc", os.path.join(config.exec_root, "runtime", "runc2"))
    rt.start(cid)
    assert runc2.state(cid)["status"] == "running"
    rt.pause(cid)
    assert runc2.state(cid)["status"] == "paused"
    rt.update(cid, {"pids": {"limit": 77}})
    assert _pids_max(cid) == "77"
    rt.resume(cid)
    assert runc2.state(cid)["status"] == "running"
    handle = rt.exec_process(cid, {"args": ["sh", "-c", "echo via-runc2"], "cwd": "/", "env": ["PATH=/bin"],
                                   "user": {"uid": 0, "gid": 0}})
    assert handle.connection is not None
    out, _ = handle.connection.read_all()
    assert handle.wait(10) == 0 and out == b"via-runc2\n"
    handle.remove()
    rt.kill(cid, "KILL")
    assert harness.wait_exit(cid).code == 137
    rt.delete(cid)
    assert runc2.state(cid) is None
