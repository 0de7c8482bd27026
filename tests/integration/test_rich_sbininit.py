"""Rich containers in sbin-init mode with busybox's init as pid 1: the app as an inittab
entry whose output, exit code, env, user and workdir are the container's; hooks; ops."""

from __future__ import annotations

import time

from tests.integration.conftest import unique_name, wait_for, wait_until


def sbin_init(*args: str) -> list[str]:
    return ["--rich", "--rich-mode", "sbin-init", *args]




def test_busybox_init_is_pid_1_and_the_app_its_output_and_code_the_containers(daemon):
    si1 = unique_name("si1")
    si2 = unique_name("si2")
    d = daemon
    d.cli("run", "-d", "--name", si1, *sbin_init(), "busybox", "sh", "-c", "echo app-is-up; sleep 1000")
    try:
        assert wait_for(lambda: "app-is-up" in d.cli("logs", si1).stdout)
        assert d.cli("exec", si1, "cat", "/proc/1/comm").stdout.strip() == "init"  # busybox init renames itself
        assert d.cli("exec", si1, "readlink", "/proc/1/exe").stdout.strip() == "/bin/busybox"
        inittab = d.cli("exec", si1, "cat", "/etc/inittab").stdout
        assert "::once:/.pouch/bin/busybox sh /.pouch/rich/app.sh" in inittab
        assert d.cli("exec", si1, "sh", "-c", "echo x >> /etc/inittab || echo ro").stdout.strip().endswith("ro")
        assert d.inspect(si1)["Config"]["RichMode"] == "sbin-init"
    finally:
        d.cli("rm", "-f", si1)
    out = d.cli("run", "--name", si2, *sbin_init(), "busybox", "sh", "-c", "echo bye; exit 7", check=False)
    try:
        assert out.returncode == 7 and "bye" in out.stdout
        state = d.inspect(si2)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 7)
    finally:
        d.cli("rm", "-f", si2)


def test_app_env_user_and_workdir(daemon):
    out = daemon.cli("run", "--rm", *sbin_init(), "-e", "TRICKY=a 'b' $c=d e", "-u", "1000", "-w", "/home/pouch",
                     "busybox", "sh", "-c", 'echo "$(id -u):$(id -g) in $(pwd): $TRICKY"; '
                     'grep -c "^CapEff:.0000000000000000$" /proc/self/status').stdout
    assert "1000:1000 in /home/pouch: a 'b' $c=d e\n1\n" in out


def test_prestart_hook_runs_before_the_app_and_a_failing_one_fails_the_start(daemon):
    si_fail = unique_name("si-fail")
    out = daemon.cli("run", "--rm", *sbin_init("--prestart-hook", "echo prepared > /tmp/order; id -u >> /tmp/order"),
                     "-u", "1000", "busybox", "sh", "-c", "cat /tmp/order; id -u").stdout
    assert "prepared\n0\n1000\n" in out
    result = daemon.cli("run", "--name", si_fail, *sbin_init("--prestart-hook", "echo cannot-prepare; exit 5"),
                        "busybox", "sh", "-c", "echo app-ran", check=False)
    try:
        assert result.returncode != 0
        assert "exit code 5" in result.stderr and "cannot-prepare" in result.stderr
        assert "app-ran" not in result.stdout
    finally:
        daemon.cli("rm", "-f", si_fail)


def test_poststop_hooks_see_exited_and_stopped_and_stop_is_clean(daemon, tmp_path):
    si_stop = unique_name("si-stop")
    d = daemon
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hook = 'echo "$POUCH_EXIT_CODE $POUCH_EXIT_REASON" >> /out/reasons'
    result = d.cli("run", "--rm", *sbin_init("--poststop-hook", hook), "-v", f"{out_dir}:/out", "busybox",
                   "sh", "-c", "exit 4", check=False)
    assert result.returncode == 4
    d.cli("run", "-d", "--name", si_stop, *sbin_init("--poststop-hook", hook), "-v", f"{out_dir}:/out",
          "busybox", "sh", "-c", "trap 'echo got-term; exit 9' TERM; echo trapping; while true; do sleep 0.1; done")
    try:
        wait_until(lambda: "trapping" in d.cli("logs", si_stop).stdout, what="the TERM trap")
        start = time.monotonic()
        d.cli("stop", "-t", "8", si_stop)
        assert time.monotonic() - start < 7, "pouch stop fell back to SIGKILL"
        state = d.inspect(si_stop)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 9)
        assert "got-term" in d.cli("logs", si_stop).stdout
    finally:
        d.cli("rm", "-f", si_stop)
    assert (out_dir / "reasons").read_text().splitlines() == ["4 exited", "9 stopped"]


def test_ops_components_run_and_are_respawned(daemon, tmp_path):
    si_ops = unique_name("si-ops")
    ops = tmp_path / "ops"
    ops.mkdir()
    agent = ops / "agent"
    agent.write_text("#!/bin/sh\necho beat >> /tmp/agent.log\nsleep 0.2\n")
    agent.chmod(0o755)
    (ops / "README").write_text("not executable: not started\n")
    daemon.cli("run", "-d", "--name", si_ops, *sbin_init("--ops-dir", str(ops)), "busybox", "sleep", "100")
    try:
        # respawned after each exit: a second beat
        wait_until(lambda: len(daemon.cli("exec", si_ops, "cat", "/tmp/agent.log", check=False).stdout.split()) >= 2,
                   what="the ops agent's second beat")
        assert "README" not in daemon.cli("exec", si_ops, "cat", "/etc/inittab").stdout
    finally:
        daemon.cli("rm", "-f", si_ops)


def test_sbin_init_is_refused_for_an_image_without_sbin_init(daemon, tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", arcname="busybox")
    (tmp_path / "noinit.tar").write_bytes(buf.getvalue())
    daemon.cli("import", str(tmp_path / "noinit.tar"), "noinit:1")
    try:
        result = daemon.cli("create", *sbin_init(), "noinit:1", "/busybox", "true", check=False)
        assert result.returncode != 0 and "needs /sbin/init in the image" in result.stderr
    finally:
        daemon.cli("rmi", "noinit:1")
