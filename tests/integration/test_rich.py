"""Rich containers in dumb-init mode: init as pid 1, hooks inside, ops components."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from tests.integration.conftest import unique_name, wait_until

ORPHANS = "(sh -c 'sleep 0.5 &' &); exec sleep 100"  # a grandchild orphaned to pid 1 exits after the exec


def zombies(daemon, name) -> list[str]:
    out = daemon.cli("exec", name, "ps", "-o", "stat,comm").stdout.splitlines()[1:]
    return [line for line in out if line.split()[0].startswith("Z")]


def sleeps(daemon, name) -> list[str]:
    out = daemon.cli("exec", name, "ps", "-o", "stat,comm").stdout.splitlines()[1:]
    return [line for line in out if line.split()[-1] == "sleep"]


def test_dumb_init_is_pid_1_and_reaps_orphans_a_plain_container_does_not(daemon):
    plain_z = unique_name("plain-z")
    rich_z = unique_name("rich-z")
    daemon.cli("run", "-d", "--name", plain_z, "busybox", "sh", "-c", ORPHANS)
    daemon.cli("run", "-d", "--name", rich_z, "--rich", "busybox", "sh", "-c", ORPHANS)
    try:
        wait_until(lambda: zombies(daemon, plain_z), what="the plain container's orphan to end (its pid 1, sleep, "
                   "leaves the zombie)")
        # the rich container's orphan ended too: one sleep left (a zombie left by pid 1 would be a second one)
        wait_until(lambda: len(sleeps(daemon, rich_z)) == 1, what="the rich container's orphan to be reaped")
        assert zombies(daemon, rich_z) == []
        pid1 = daemon.cli("exec", rich_z, "cat", "/proc/1/cmdline").stdout.split("\0")[0]
        assert pid1 == "/.pouch/bin/dumb-init"
        config = daemon.inspect(rich_z)["Config"]
        assert config["Rich"] is True and config["RichMode"] == "dumb-init"
    finally:
        daemon.cli("rm", "-f", plain_z, rich_z)


def test_dumb_init_binary_is_bind_mounted_read_only(daemon):
    out = daemon.cli("run", "--rm", "--rich", "busybox", "sh", "-c",
                     "grep ' /.pouch/bin/dumb-init ' /proc/mounts; echo x > /.pouch/bin/dumb-init || echo refused").stdout
    assert " ro," in out.splitlines()[0] and out.splitlines()[-1] == "refused"


def test_signals_are_forwarded_and_exit_code_kept(daemon):
    rich_sig = unique_name("rich-sig")
    daemon.cli("run", "-d", "--rich", "--name", rich_sig, "busybox", "sh", "-c",
               "trap 'echo got-term; exit 7' TERM; echo trapping; while true; do sleep 0.1; done")
    try:
        wait_until(lambda: "trapping" in daemon.cli("logs", rich_sig).stdout, what="the TERM trap")
        daemon.cli("stop", "-t", "5", rich_sig)
        assert daemon.inspect(rich_sig)["State"]["ExitCode"] == 7
        assert "got-term" in daemon.cli("logs", rich_sig).stdout
    finally:
        daemon.cli("rm", "-f", rich_sig)


def test_prestart_hooks_run_inside_before_the_app(daemon):
    out = daemon.cli("run", "--rm", "--rich", "--prestart-hook", "echo first > /tmp/order",
                     "--prestart-hook", "echo second >> /tmp/order; id -u >> /tmp/order",
                     "-u", "1000", "busybox", "sh", "-c", "cat /tmp/order; id -u").stdout
    assert out == "first\nsecond\n0\n1000\n"


def test_failing_prestart_hook_fails_the_start_with_its_output(daemon):
    rich_fail = unique_name("rich-fail")
    result = daemon.cli("run", "--name", rich_fail, "--rich", "--prestart-hook", "echo cannot-prepare; exit 5",
                        "busybox", "sh", "-c", "echo app-ran", check=False)
    try:
        assert result.returncode != 0
        assert "exit code 5" in result.stderr and "cannot-prepare" in result.stderr
        assert "app-ran" not in result.stdout
        assert daemon.inspect(rich_fail)["State"]["Status"] in ("created", "exited")
        bundles = os.listdir(os.path.join(daemon.exec_root, "bundles"))
        assert not bundles or all(not name.startswith(daemon.inspect(rich_fail)["Id"]) for name in bundles)
    finally:
        daemon.cli("rm", "-f", rich_fail)


def test_initscript_runs_first(daemon, tmp_path):
    script = tmp_path / "init.sh"
    script.write_text("echo from-initscript > /tmp/init-ran\n")
    out = daemon.cli("run", "--rm", "--rich", "-v", f"{tmp_path}:/opt/ops:ro", "--initscript", "/opt/ops/init.sh",
                     "busybox", "cat", "/tmp/init-ran").stdout
    assert out == "from-initscript\n"


def test_poststop_hooks_see_exit_code_and_reason(daemon, tmp_path):
    rich_stop = unique_name("rich-stop")
    rich_killed = unique_name("rich-killed")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hook = 'echo "$POUCH_EXIT_CODE $POUCH_EXIT_REASON" >> /out/reasons'
    daemon.cli("run", "--rm", "--rich", "-v", f"{out_dir}:/out", "--poststop-hook", hook, "busybox", "sh", "-c",
               "exit 4", check=False)
    daemon.cli("run", "-d", "--name", rich_stop, "--rich", "-v", f"{out_dir}:/out", "--poststop-hook", hook,
               "busybox", "sleep", "100")
    try:
        wait_until(lambda: "sleep 100" in daemon.cli("top", rich_stop).stdout, what="the app under dumb-init")
        daemon.cli("stop", rich_stop)
        daemon.cli("run", "-d", "--name", rich_killed, "--rich", "-v", f"{out_dir}:/out", "--poststop-hook", hook,
                   "busybox", "sh", "-c", "kill -9 $$")
        daemon.cli("wait", rich_killed)
    finally:
        daemon.cli("rm", "-f", rich_stop, rich_killed)
    assert (out_dir / "reasons").read_text().splitlines() == ["4 exited", "143 stopped", "137 signaled"]


def test_ops_components_run_beside_the_app_and_are_restarted(daemon, tmp_path):
    rich_ops = unique_name("rich-ops")
    ops = tmp_path / "ops"
    ops.mkdir()
    agent = ops / "agent"
    agent.write_text("#!/bin/sh\necho beat >> /tmp/agent.log\nsleep 0.2\n")
    agent.chmod(0o755)
    (ops / "README").write_text("not executable: not started\n")
    daemon.cli("run", "-d", "--name", rich_ops, "--rich", "--ops-dir", str(ops), "busybox", "sleep", "100")
    try:
        # restarted after each exit: a second beat
        wait_until(lambda: len(daemon.cli("exec", rich_ops, "cat", "/tmp/agent.log", check=False).stdout.split()) >= 2,
                   what="the ops agent's second beat")
        assert daemon.cli("exec", rich_ops, "sh", "-c", "touch /.pouch/ops/x 2>/dev/null || echo ro").stdout == "ro\n"
        assert daemon.inspect(rich_ops)["HostConfig"]["OpsDir"] == str(ops)
    finally:
        daemon.cli("rm", "-f", rich_ops)


def test_image_without_a_shell(daemon, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", arcname="busybox")
    rootfs = tmp_path / "noshell.tar"
    rootfs.write_bytes(buf.getvalue())
    daemon.cli("import", str(rootfs), "noshell:1")
    try:
        out = daemon.cli("run", "--rm", "--rich", "--poststop-hook", "echo hook-ran", "noshell:1",
                         "/busybox", "echo", "no shell needed")
        assert out.stdout == "no shell needed\nhook-ran\n"  # the poststop hook's output is the container's too
        assert daemon.cli("run", "--rm", "noshell:1", "/busybox", "test", "-e", "/bin/sh", check=False).returncode == 1
    finally:
        daemon.cli("rmi", "noshell:1")


@pytest.mark.parametrize("args,message", [
    (["--rich-mode", "dumb-init"], "needs --rich"),
    (["--prestart-hook", "true"], "needs --rich"),
    (["--rich", "--rich-mode", "upstart"], "unknown rich mode 'upstart'"),
    (["--rich", "--rich-mode", "systemd"], "needs systemd in the image"),
    (["--rich", "--ops-dir", "/no/such/ops"], "no such directory"),
])
def test_bad_rich_options_are_refused_at_create(daemon, args, message):
    before = daemon.cli("ps", "-aq").stdout
    result = daemon.cli("create", *args, "busybox", "true", check=False)
    assert result.returncode != 0 and message in result.stderr
    assert daemon.cli("ps", "-aq").stdout == before
