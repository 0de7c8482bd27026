"""`pouch run` and the container life cycle, driven through the pouch CLI."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time

from tests.integration.conftest import free_port, mounts_below, unique_name, wait_until


def test_run_prints_output_and_returns_exit_code(daemon):
    result = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo hello; echo oops >&2; exit 3", check=False)
    assert result.returncode == 3
    assert result.stdout == "hello\n"
    assert "oops" in result.stderr


def test_rm_leaves_no_container(daemon):
    gone = unique_name("gone")
    daemon.cli("run", "--rm", "--name", gone, "busybox", "true")
    assert gone not in daemon.cli("ps", "-a").stdout
    assert daemon.cli("run", "--rm", "--name", gone, "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    pending = os.path.join(daemon.root, "pending-removal")
    wait_until(lambda: not os.path.isdir(pending) or not os.listdir(pending), timeout=5,
               what="the --rm teardowns to finish")


def test_env_workdir_user_hostname_labels(daemon, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n")
    out = daemon.cli(
        "run", "--rm", "-e", "A=1", "--env-file", str(env_file), "-w", "/tmp", "-u", "1000:1000",
        "--hostname", "pouchy", "-l", "team=ops", "busybox",
        "sh", "-c", 'echo "$A $FROM_FILE $container"; pwd; id -u; id -g; hostname; cat /etc/hostname',
    ).stdout.split("\n")
    assert out[:6] == ["1 yes pouch", "/tmp", "1000", "1000", "pouchy", "pouchy"]


def test_user_by_name_from_image_passwd(daemon):
    assert daemon.cli("run", "--rm", "-u", "pouch", "busybox", "id", "-un").stdout.strip() == "pouch"


def test_unknown_user_is_a_clear_error(daemon):
    result = daemon.cli("run", "--rm", "-u", "nosuchuser", "busybox", "true", check=False)
    assert result.returncode != 0
    assert "nosuchuser" in result.stderr


def test_entrypoint_override(daemon):
    assert daemon.cli("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b").stdout == "a b\n"


def test_detached_logs_stop_and_exit_code(daemon):
    logger = unique_name("logger")
    cid = daemon.cli("run", "-d", "--name", logger, "busybox", "sh", "-c",
                     "trap 'echo bye; exit 42' TERM; echo started; while true; do sleep 0.1; done").stdout.strip()
    assert len(cid) == 64
    wait_until(lambda: "started" in daemon.cli("logs", logger).stdout, what="the container's first line")
    assert daemon.inspect(logger)["State"]["Status"] == "running"
    daemon.cli("stop", "-t", "5", logger)
    state = daemon.inspect(logger)["State"]
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 42
    assert daemon.cli("logs", logger).stdout == "started\nbye\n"
    daemon.cli("rm", logger)


def test_stop_timeout_falls_back_to_kill(daemon):
    stubborn = unique_name("stubborn")
    daemon.cli("run", "-d", "--name", stubborn, "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
    start = time.monotonic()
    daemon.cli("stop", "-t", "1", stubborn)
    assert time.monotonic() - start < 8
    assert daemon.inspect(stubborn)["State"]["ExitCode"] == 137
    daemon.cli("rm", stubborn)


def test_kill_pause_unpause_restart_rename(daemon):
    lc = unique_name("lc")
    lc2 = unique_name("lc2")
    daemon.cli("run", "-d", "--name", lc, "busybox", "sleep", "1000")
    daemon.cli("pause", lc)
    assert daemon.inspect(lc)["State"]["Status"] == "paused"
    assert daemon.inspect(lc)["State"]["Paused"] is True
    daemon.cli("unpause", lc)
    assert daemon.inspect(lc)["State"]["Status"] == "running"
    daemon.cli("rename", lc, lc2)
    pid_before = daemon.inspect(lc2)["State"]["Pid"]
    daemon.cli("restart", "-t", "1", lc2)
    state = daemon.inspect(lc2)["State"]
    assert state["Status"] == "running" and state["Pid"] != pid_before
    daemon.cli("kill", "-s", "KILL", lc2)
    daemon.cli("wait", lc2)
    assert daemon.inspect(lc2)["State"]["ExitCode"] == 137
    daemon.cli("rm", lc2)


def test_remove_running_needs_force(daemon):
    busy = unique_name("busy")
    daemon.cli("run", "-d", "--name", busy, "busybox", "sleep", "1000")
    result = daemon.cli("rm", busy, check=False)
    assert result.returncode != 0
    assert "cannot remove a running container" in result.stderr.lower() or "stop the container" in result.stderr.lower()
    daemon.cli("rm", "-f", busy)
    assert daemon.cli("inspect", busy, check=False).returncode != 0


def test_name_conflict(daemon):
    twin = unique_name("twin")
    daemon.cli("create", "--name", twin, "busybox", "true")
    result = daemon.cli("create", "--name", twin, "busybox", "true", check=False)
    assert result.returncode != 0
    assert "already in use" in result.stderr
    daemon.cli("rm", twin)


def test_no_such_image_and_container(daemon):
    result = daemon.cli("run", "--rm", "nosuchimage:1", "true", check=False)
    assert result.returncode == 125
    assert "nosuchimage" in result.stderr
    result = daemon.cli("inspect", "nosuchcontainer", check=False)
    assert result.returncode != 0 and "nosuchcontainer" in result.stderr


def test_create_start_attach(daemon):
    later = unique_name("later")
    daemon.cli("create", "--name", later, "busybox", "sh", "-c", "echo from-start; exit 5")
    assert daemon.inspect(later)["State"]["Status"] == "created"
    result = daemon.cli("start", "-a", later, check=False)
    assert result.stdout == "from-start\n"
    assert result.returncode == 5
    daemon.cli("rm", later)


def test_interactive_stdin(daemon):
    result = daemon.cli("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input="shout\n")
    assert result.stdout == "SHOUT\n"


def test_tty_run(daemon):
    # a tty needs a terminal on our side: script(1) gives the CLI one
    result = daemon.cli("run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo done", check=False)
    # without a local terminal the CLI must still run the container with a pty inside
    assert "/dev/pts/" in result.stdout or "/dev/console" in result.stdout


def test_exec(daemon):
    ex = unique_name("ex")
    daemon.cli("run", "-d", "--name", ex, "-e", "FOO=bar", "busybox", "sleep", "1000")
    assert daemon.cli("exec", ex, "sh", "-c", "echo $FOO; pwd").stdout == "bar\n/\n"
    assert daemon.cli("exec", "-w", "/tmp", "-u", "1000", "-e", "X=y", ex, "sh", "-c",
                      "echo $X; pwd; id -u").stdout == "y\n/tmp\n1000\n"
    assert daemon.cli("exec", ex, "sh", "-c", "exit 9", check=False).returncode == 9
    assert daemon.cli("exec", "-i", ex, "cat", input="through stdin\n").stdout == "through stdin\n"
    daemon.cli("exec", "-d", ex, "sh", "-c", "echo detached > /tmp/marker.new && mv /tmp/marker.new /tmp/marker")
    marker = wait_until(lambda: daemon.cli("exec", ex, "cat", "/tmp/marker", check=False).stdout,
                        what="the detached exec to write its marker")
    assert marker == "detached\n"
    top = daemon.cli("top", ex).stdout
    assert "sleep 1000" in top
    daemon.cli("rm", "-f", ex)


def test_ps_filters_and_quiet(daemon):
    ps_running = unique_name("ps-running")
    ps_created = unique_name("ps-created")
    daemon.cli("run", "-d", "--name", ps_running, "-l", f"role={ps_running}", "busybox", "sleep", "1000")
    daemon.cli("create", "--name", ps_created, "busybox", "true")
    running = daemon.cli("ps", "--format", "{{.Names}}", check=False)
    listing = daemon.cli("ps").stdout
    assert ps_running in listing and ps_created not in listing
    assert ps_created in daemon.cli("ps", "-a").stdout
    quiet = daemon.cli("ps", "-aq", "--filter", f"label=role={ps_running}").stdout.split()
    assert len(quiet) == 1 and len(quiet[0]) == 12
    created = daemon.cli("ps", "-a", "--filter", "status=created", "-q", "--no-trunc").stdout.split()
    assert daemon.inspect(ps_created)["Id"] in created
    assert daemon.inspect(ps_running)["Id"] not in created
    assert len(daemon.cli("ps", "-a", "-n", "1", "-q").stdout.split()) == 1
    del running
    daemon.cli("rm", "-f", ps_running, ps_created)


def test_bind_mounts_tmpfs_readonly(daemon, tmp_path):
    (tmp_path / "in.txt").write_text("from host\n")
    out = daemon.cli("run", "--rm", "-v", f"{tmp_path}:/data", "-v", f"{tmp_path}:/ro:ro", "--tmpfs", "/scratch",
                     "busybox", "sh", "-c",
                     "cat /data/in.txt; echo written > /data/out.txt; touch /ro/x 2>/dev/null || echo ro-refused; "
                     "grep ' /scratch ' /proc/mounts | cut -d' ' -f3").stdout
    assert out == "from host\nro-refused\ntmpfs\n"
    assert (tmp_path / "out.txt").read_text() == "written\n"
    out = daemon.cli("run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x 2>/dev/null || echo ro-root").stdout
    assert out == "ro-root\n"


def test_default_security(daemon):
    out = daemon.cli("run", "--rm", "busybox", "sh", "-c",
                     "grep CapEff /proc/self/status; cat /proc/kcore 2>&1 | head -c 0; "
                     "grep Seccomp: /proc/self/status; grep ' /dev/shm ' /proc/mounts").stdout
    assert "CapEff:\t00000000a80425fb" in out
    assert "Seccomp:\t2" in out
    assert "size=65536k" in out
    priv = daemon.cli("run", "--rm", "--privileged", "busybox", "grep", "CapEff", "/proc/self/status").stdout
    assert "0000000000000000" not in priv and "00000000a80425fb" not in priv
    added = daemon.cli("run", "--rm", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "busybox", "grep", "CapEff",
                       "/proc/self/status").stdout
    assert "00000000a80435fa" in added
    nnp = daemon.cli("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
                     "/proc/self/status").stdout
    assert "NoNewPrivs:\t1" in nnp
    unconfined = daemon.cli("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:",
                            "/proc/self/status").stdout
    assert "Seccomp:\t0" in unconfined


def test_network_modes(daemon):
    netowner = unique_name("netowner")
    bridge = daemon.cli("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    prefix = daemon.subnet.rsplit(".", 1)[0]
    assert f"inet {prefix}." in bridge
    none = daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    assert "lo" in none and "eth0" not in none
    host = daemon.cli("run", "--rm", "--network", "host", "busybox", "hostname").stdout.strip()
    assert host == os.uname().nodename
    daemon.cli("run", "-d", "--name", netowner, "busybox", "sleep", "1000")
    owner_ip = daemon.inspect(netowner)["NetworkSettings"]["IPAddress"]
    joined = daemon.cli("run", "--rm", "--network", f"container:{netowner}", "busybox", "ip", "-o", "-4", "addr",
                        "show", "eth0").stdout
    assert owner_ip and owner_ip in joined
    daemon.cli("rm", "-f", netowner)


def test_port_publish(daemon):
    web = unique_name("web")
    port = free_port()
    daemon.cli("run", "-d", "--name", web, "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
               "echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nhello from pouch' > /tmp/r; while true; do nc -l -p 80 < /tmp/r; done")

    def answer() -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(4096)
        except OSError:
            return b""

    assert b"hello from pouch" in wait_until(answer, what="the published port to answer")
    ports = daemon.inspect(web)["NetworkSettings"]["Ports"]
    assert ports["80/tcp"][0]["HostPort"] == str(port)
    daemon.cli("rm", "-f", web)


def test_logs_tail_timestamps_follow(daemon):
    lines = unique_name("lines")
    daemon.cli("run", "-d", "--name", lines, "busybox", "sh", "-c",
               "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo late")
    wait_until(lambda: "line5" in daemon.cli("logs", lines).stdout, what="the first five lines")
    assert daemon.cli("logs", "--tail", "2", lines).stdout == "line4\nline5\n"
    stamped = daemon.cli("logs", "-t", "--tail", "1", lines).stdout
    assert stamped.endswith(" line5\n") and stamped[:4].isdigit()
    followed = daemon.cli("logs", "-f", lines, timeout=20).stdout
    assert followed.endswith("line5\nlate\n")
    daemon.cli("rm", lines)


def test_failed_start_leaves_nothing(daemon):
    broken = unique_name("broken")
    netns_dir = os.path.join(daemon.exec_root, "netns")
    before = set(mounts_below(daemon.base))
    netns_before = set(os.listdir(netns_dir))
    result = daemon.cli("run", "--name", broken, "busybox", "/no/such/binary", check=False)
    assert result.returncode != 0
    assert "no/such/binary" in result.stderr
    assert set(mounts_below(daemon.base)) == before
    state = daemon.inspect(broken)["State"]
    assert state["Status"] in ("created", "exited")
    assert set(os.listdir(netns_dir)) == netns_before
    cid = daemon.inspect(broken)["Id"]
    assert result.returncode == 127  # docker's code for a command that cannot be found
    for controller in ("memory", "pids", "cpu", "systemd"):
        assert not os.path.exists(f"/sys/fs/cgroup/{controller}/pouch/{cid}"), controller
    runc_state = subprocess.run(["runc", "--root", os.path.join(daemon.exec_root, "runtime", "runc"), "list", "-q"],
                                capture_output=True, text=True).stdout.split()
    assert cid not in runc_state
    assert not os.path.exists(os.path.join(daemon.exec_root, "bundles", cid))
    daemon.cli("rm", broken)


def test_inspect_env_is_the_process_env(daemon):
    """``Config.Env`` of inspect is what the process gets (without the daemon's own PATH
    default, HOSTNAME, container=pouch and runc's HOME): ``-e A=1 -e A`` unsets A, ``-e NAME``
    with NAME unset in the client's environment arrives bare and sets nothing, ``-e B=1 -e B=2``
    keeps the last value."""
    name = f"envcheck-{secrets.token_hex(4)}"
    daemon.cli("create", "--name", name, "-e", "A=1", "-e", "A", "-e", "POUCH_TEST_NOT_SET", "-e", "B=1",
               "-e", "B=2", "busybox", "env")
    try:
        shown = daemon.inspect(name)["Config"]["Env"]
        got = daemon.cli("start", "-a", name).stdout.splitlines()
    finally:
        daemon.cli("rm", "-f", name, check=False)
    daemon_own = {"HOSTNAME", "HOME", "container", "TERM"}  # not in Config.Env, as with Docker
    if not any(e.startswith("PATH=") for e in shown):
        daemon_own.add("PATH")  # the daemon's default, when the image sets none
    assert [e for e in got if e.partition("=")[0] not in daemon_own] == shown
    assert "B=2" in shown and "B=1" not in shown
    assert not any(e.partition("=")[0] in ("A", "POUCH_TEST_NOT_SET") for e in shown)


def test_bad_security_opt_is_refused_at_create_naming_it(daemon):
    name = f"badsec-{secrets.token_hex(4)}"
    result = daemon.cli("create", "--name", name, "--security-opt", "no-new-privileges=maybe", "busybox", "true",
                        check=False)
    assert result.returncode != 0 and "no-new-privileges=maybe" in result.stderr
    assert daemon.cli("inspect", name, check=False).returncode != 0  # nothing was created
    daemon.cli("create", "--name", name, "--security-opt", "seccomp:unconfined", "--security-opt", "label=disable",
               "busybox", "true")
    try:
        assert daemon.inspect(name)["HostConfig"]["SecurityOpt"] == ["seccomp:unconfined", "label=disable"]
    finally:
        daemon.cli("rm", "-f", name, check=False)
