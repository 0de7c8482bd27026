"""The rest of the issue's verbs and flags, end to end through the pouch CLI
(and, where the issue asks for it, the docker CLI): what a user sees."""

from __future__ import annotations

import calendar
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import POUCH, free_port, needs_docker, unique_name, wait_for

needs_script = pytest.mark.skipif(shutil.which("script") is None, reason="script(1) is missing")





def wait_logs(daemon, name: str, text: str, timeout: float = 10.0) -> str:
    out = wait_for(lambda: (lambda o: o if text in o else "")(daemon.cli("logs", name).stdout), timeout)
    assert text in out, f"{text!r} never showed in the logs of {name}"
    return out


def in_terminal(command: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``command`` with a pseudo-terminal as its stdin/stdout (script(1))."""
    return subprocess.run(["script", "-qec", command, "/dev/null"], input=input, capture_output=True, text=True,
                          timeout=timeout)


class Streaming:
    """A CLI process whose output we read line by line with a deadline; killed at exit."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, stdin: int | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.buf = b""

    def read_until(self, text: bytes, timeout: float = 10.0) -> bytes:
        import select

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while text not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.buf += chunk
        return self.buf

    def __enter__(self) -> Streaming:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


# --- images -------------------------------------------------------------------------------


def test_import_entrypoint_and_cmd_changes(daemon, busybox_tar):
    daemon.cli("import", busybox_tar, "withep:v1", "--change", 'ENTRYPOINT ["echo", "ep"]', "--change", 'CMD ["dflt"]')
    try:
        assert daemon.cli("run", "--rm", "withep:v1").stdout == "ep dflt\n"
        assert daemon.cli("run", "--rm", "withep:v1", "given").stdout == "ep given\n"
        config = json.loads(daemon.cli("image", "inspect", "withep:v1").stdout)[0]["Config"]
        assert config["Entrypoint"] == ["echo", "ep"] and config["Cmd"] == ["dflt"]
        listing = daemon.cli("images").stdout.splitlines()
        assert listing[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"]
        assert any(line.split()[:2] == ["withep", "v1"] for line in listing)
        short_id = json.loads(daemon.cli("image", "inspect", "withep:v1").stdout)[0]["Id"].split(":")[1][:12]
        assert short_id in daemon.cli("images", "-q").stdout.split()
    finally:
        daemon.cli("rmi", "withep:v1")
    assert daemon.cli("image", "inspect", "withep:v1", check=False).returncode != 0


def test_image_stopsignal_honoured_by_stop(daemon, busybox_tar):
    imgsig = unique_name("imgsig")
    daemon.cli("import", busybox_tar, "sigint:v1", "--change", "STOPSIGNAL SIGINT")
    try:
        daemon.cli("run", "-d", "--name", imgsig, "sigint:v1", "sh", "-c",
                   "trap 'echo got-int; exit 11' INT; echo ready; while true; do sleep 0.1; done")
        wait_logs(daemon, imgsig, "ready")
        daemon.cli("stop", "-t", "5", imgsig)
        assert daemon.inspect(imgsig)["State"]["ExitCode"] == 11
        assert "got-int" in daemon.cli("logs", imgsig).stdout
    finally:
        daemon.cli("rm", "-f", imgsig, check=False)
        daemon.cli("rmi", "sigint:v1", check=False)


def test_images_format_lists_every_tag(daemon):
    daemon.cli("tag", "busybox", "twotags/bb:v1")
    try:
        rows = daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
        ids = {row.split()[1] for row in rows if row.split()[0] in ("busybox:latest", "twotags/bb:v1")}
        assert {row.split()[0] for row in rows} >= {"busybox:latest", "twotags/bb:v1"}
        assert len(ids) == 1
    finally:
        daemon.cli("rmi", "twotags/bb:v1")


def test_images_reference_and_filters(daemon, busybox_tar):
    daemon.cli("import", busybox_tar, "filtered/one:v1", "--change", "LABEL kind=filtered")
    try:
        fmt = ("--format", "{{.Repository}}:{{.Tag}}")
        assert daemon.cli("images", *fmt, "filtered/one").stdout.split() == ["filtered/one:v1"]
        assert daemon.cli("images", *fmt, "--filter", "reference=filtered/*").stdout.split() == ["filtered/one:v1"]
        assert daemon.cli("images", *fmt, "--filter", "label=kind=filtered").stdout.split() == ["filtered/one:v1"]
        assert daemon.cli("images", *fmt, "nosuchrepo").stdout == ""
        result = daemon.cli("images", "--filter", "colour=red", check=False)
        assert result.returncode != 0 and "colour" in result.stderr
    finally:
        daemon.cli("rmi", "filtered/one:v1")


# --- run flags ----------------------------------------------------------------------------


def test_run_labels_hostname_name_visible_in_inspect_and_ps(daemon):
    labelled = unique_name("labelled")
    daemon.cli("run", "-d", "--name", labelled, "-l", "team=ops", "-l", "tier=web", "--hostname", "box1",
               "busybox", "sleep", "1000")
    try:
        info = daemon.inspect(labelled)
        assert info["Name"] == f"/{labelled}"
        assert info["Config"]["Labels"] == {"team": "ops", "tier": "web"}
        assert info["Config"]["Hostname"] == "box1"
        assert daemon.cli("ps", "-q", "--filter", f"name={labelled}").stdout.strip() == info["Id"][:12]
        assert daemon.cli("ps", "-q", "--filter", "label=tier=web", "--no-trunc").stdout.strip() == info["Id"]
        line = [ln for ln in daemon.cli("ps", "--no-trunc").stdout.splitlines() if labelled in ln][0]
        assert info["Id"] in line and '"sleep 1000"' in line
    finally:
        daemon.cli("rm", "-f", labelled)


def test_run_detached_interactive_tty_flags(daemon):
    dit = unique_name("dit")
    cid = daemon.cli("run", "-dit", "--name", dit, "busybox", "sh").stdout.strip()
    try:
        config = daemon.inspect(dit)["Config"]
        assert config["Tty"] is True and config["OpenStdin"] is True
        assert daemon.inspect(dit)["State"]["Running"] is True  # sh keeps reading its open tty
        assert daemon.cli("exec", dit, "sh", "-c", "readlink /proc/1/fd/0").stdout.startswith("/dev/pts/")
    finally:
        daemon.cli("rm", "-f", cid)


def test_publish_udp(daemon):
    """``-p ip:host:ctr/udp``: a datagram to the host port reaches the container and the reply comes back.
    busybox has no UDP server, so the host's python3 runs inside through a read-only bind mount of /usr."""
    udp = unique_name("udp")
    server = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5000))\n"
              "print('ready', flush=True)\nwhile True:\n    d, a = s.recvfrom(100); s.sendto(b'pong:' + d, a)\n")
    port = free_port(socket.SOCK_DGRAM)
    daemon.cli("run", "-d", "--name", udp, "-p", f"127.0.0.1:{port}:5000/udp", "-v", "/usr:/hostusr:ro",
               "-e", "PYTHONHOME=/hostusr", "busybox", "/hostusr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
               "--library-path", "/hostusr/lib/x86_64-linux-gnu", "/hostusr/bin/python3", "-c", server)
    try:
        wait_logs(daemon, udp, "ready")
        assert daemon.inspect(udp)["NetworkSettings"]["Ports"]["5000/udp"] == [
            {"HostIp": "127.0.0.1", "HostPort": str(port)}]
        reply = b""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            for _ in range(10):
                s.sendto(b"ping", ("127.0.0.1", port))
                try:
                    reply = s.recvfrom(100)[0]
                    break
                except TimeoutError:
                    continue
        assert reply == b"pong:ping"
    finally:
        daemon.cli("rm", "-f", udp)


def test_stop_signal_flag_honoured_by_stop(daemon):
    usr1 = unique_name("usr1")
    daemon.cli("run", "-d", "--name", usr1, "--stop-signal", "USR1", "busybox", "sh", "-c",
               "trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done")
    try:
        wait_logs(daemon, usr1, "ready")
        assert daemon.inspect(usr1)["Config"]["StopSignal"] in ("USR1", "SIGUSR1")
        daemon.cli("stop", "-t", "5", usr1)
        assert daemon.inspect(usr1)["State"]["ExitCode"] == 7
        assert daemon.cli("logs", usr1).stdout == "ready\ngot-usr1\n"
    finally:
        daemon.cli("rm", "-f", usr1)


def test_stop_timeout_flag_is_the_default_for_stop(daemon):
    st1 = unique_name("st1")
    daemon.cli("run", "-d", "--name", st1, "--stop-timeout", "1", "busybox", "sh", "-c",
               "trap '' TERM; echo ready; while true; do sleep 0.1; done")
    try:
        wait_logs(daemon, st1, "ready")
        assert daemon.inspect(st1)["Config"]["StopTimeout"] == 1
        started = time.monotonic()
        daemon.cli("stop", st1)  # no -t: the container's own 1 s, not docker's 10 s
        assert time.monotonic() - started < 6
        assert daemon.inspect(st1)["State"]["ExitCode"] == 137
    finally:
        daemon.cli("rm", "-f", st1)


# --- life cycle verbs ---------------------------------------------------------------------


def test_start_attach_interactive(daemon):
    sai = unique_name("sai")
    daemon.cli("create", "-i", "--name", sai, "busybox", "sh", "-c", "read line; echo got:$line; exit 4")
    try:
        result = daemon.cli("start", "-a", "-i", sai, input="typed\n", check=False, timeout=20)
        assert result.stdout == "got:typed\n"
        assert result.returncode == 4
        assert daemon.inspect(sai)["State"]["Status"] == "exited"
    finally:
        daemon.cli("rm", "-f", sai)


def test_wait_prints_exit_code_and_restart_runs_again(daemon):
    w1 = unique_name("w1")
    daemon.cli("run", "-d", "--name", w1, "busybox", "sh", "-c", "echo run; exit 3")
    try:
        assert daemon.cli("wait", w1).stdout.strip() == "3"
        daemon.cli("restart", w1)
        assert daemon.cli("wait", w1).stdout.strip() == "3"
        assert daemon.cli("logs", w1).stdout == "run\nrun\n"
        assert daemon.inspect(w1)["RestartCount"] in (0, 1)  # docker counts only policy restarts
    finally:
        daemon.cli("rm", "-f", w1)


def test_kill_with_signal_name_and_number(daemon):
    k1 = unique_name("k1")
    daemon.cli("run", "-d", "--name", k1, "busybox", "sh", "-c",
               "trap 'echo hup' HUP; trap 'exit 5' USR2; echo ready; while true; do sleep 0.1; done")
    try:
        wait_logs(daemon, k1, "ready")
        daemon.cli("kill", "-s", "HUP", k1)
        wait_logs(daemon, k1, "hup")
        assert daemon.inspect(k1)["State"]["Running"] is True
        daemon.cli("kill", "--signal", "12", k1)  # SIGUSR2
        assert daemon.cli("wait", k1).stdout.strip() == "5"
        result = daemon.cli("kill", k1, check=False)
        assert result.returncode != 0 and "not running" in result.stderr
    finally:
        daemon.cli("rm", "-f", k1)


def test_rm_volumes_flag_and_multiple(daemon):
    rmv1 = unique_name("rmv1")
    rmv2 = unique_name("rmv2")
    daemon.cli("create", "--name", rmv1, "busybox", "true")
    daemon.cli("create", "--name", rmv2, "busybox", "true")
    out = daemon.cli("rm", "-v", rmv1, rmv2).stdout
    assert out.split() == [rmv1, rmv2]
    names = daemon.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert rmv1 not in names and rmv2 not in names
    result = daemon.cli("rm", rmv1, check=False)
    assert result.returncode != 0 and f"No such container: {rmv1}" in result.stderr


def test_ps_last_and_all(daemon):
    ids = [daemon.cli("create", "--name", f"psn{i}", "busybox", "true").stdout.strip() for i in range(3)]
    try:
        last_two = daemon.cli("ps", "-n", "2", "-q", "--no-trunc").stdout.split()
        assert last_two == [ids[2], ids[1]]
        running = daemon.cli("ps", "-q").stdout.split()
        assert not any(i[:12] in running for i in ids)
        listing = daemon.cli("ps", "-a").stdout
        assert all(f"psn{i}" in listing for i in range(3)) and "Created" in listing
    finally:
        daemon.cli("rm", "-f", *ids)


def test_logs_since(daemon):
    since = unique_name("since")
    daemon.cli("run", "-d", "--name", since, "busybox", "sh", "-c", "echo early; sleep 1.5; echo late")
    try:
        wait_logs(daemon, since, "early")
        stamp = daemon.cli("logs", "-t", since).stdout.split()[0]  # RFC 3339 with nanoseconds, UTC
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        early = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (fraction or "0"))
        cut = early + 0.001  # after "early", well before "late" (1.5 s later)
        assert daemon.cli("wait", since).stdout.strip() == "0"
        assert daemon.cli("logs", since).stdout == "early\nlate\n"
        assert daemon.cli("logs", "--since", f"{cut:.3f}", since).stdout == "late\n"
        rfc3339 = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut)) + f".{int(cut % 1 * 1e9):09d}Z"
        assert daemon.cli("logs", "--since", rfc3339, since).stdout == "late\n"
        assert daemon.cli("logs", "--since", "1h", since).stdout == "early\nlate\n"
        stamped = daemon.cli("logs", "-t", "--since", f"{cut:.3f}", since).stdout
        assert stamped.endswith("Z late\n")
    finally:
        daemon.cli("rm", "-f", since)


def test_logs_follow_sees_new_output_and_ends_with_container(daemon):
    follow = unique_name("follow")
    daemon.cli("run", "-d", "--name", follow, "busybox", "sh", "-c",
               "echo one; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo two")
    try:
        with Streaming([POUCH, "logs", "-f", follow], env=daemon.env) as s:
            assert b"one\n" in s.read_until(b"one\n")
            daemon.cli("exec", follow, "touch", "/tmp/go")
            assert s.read_until(b"two\n").endswith(b"one\ntwo\n")
            assert s.proc.wait(10) == 0
    finally:
        daemon.cli("rm", "-f", follow)


def test_attach_sees_new_output(daemon):
    ticker = unique_name("ticker")
    daemon.cli("run", "-d", "--name", ticker, "busybox", "sh", "-c",
               "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done")
    try:
        wait_logs(daemon, ticker, "tick1")
        already = daemon.cli("logs", ticker).stdout.split()
        with Streaming([POUCH, "attach", "--no-stdin", ticker], env=daemon.env) as s:
            out = s.read_until(b"\n", timeout=10)
            first = out.decode().split()[0]
            assert first.startswith("tick")
            # attach shows only what comes after it, not the log history
            assert int(first[4:]) >= int(already[-1][4:])
    finally:
        daemon.cli("rm", "-f", ticker)


def test_attach_stdin_reaches_container(daemon):
    echoer = unique_name("echoer")
    daemon.cli("run", "-d", "-i", "--name", echoer, "busybox", "sh", "-c",
               "while read l; do echo got:$l; done")
    try:
        with Streaming([POUCH, "attach", echoer], env=daemon.env, stdin=subprocess.PIPE) as s:
            assert s.proc.stdin is not None
            s.proc.stdin.write(b"hello\n")
            s.proc.stdin.flush()
            assert b"got:hello\n" in s.read_until(b"got:hello\n")
    finally:
        daemon.cli("rm", "-f", echoer)


def test_attach_returns_when_stdin_ends(daemon):
    echoer2 = unique_name("echoer2")
    daemon.cli("run", "-d", "-i", "--name", echoer2, "busybox", "sh", "-c", "while read l; do echo got:$l; done")
    try:
        with Streaming([POUCH, "attach", "--sig-proxy=false", echoer2], env=daemon.env,
                       stdin=subprocess.PIPE) as s:
            assert s.proc.stdin is not None
            s.proc.stdin.write(b"once\n")
            s.proc.stdin.close()
            assert b"got:once\n" in s.read_until(b"got:once\n")
            try:
                s.proc.wait(5)
            except subprocess.TimeoutExpired:
                pytest.fail("pouch attach kept running after its stdin ended")
        assert daemon.inspect(echoer2)["State"]["Running"] is True  # the container's stdin stays open
    finally:
        daemon.cli("rm", "-f", echoer2)


def test_rename_pause_top_report_errors(daemon):
    rn1 = unique_name("rn1")
    rn2 = unique_name("rn2")
    daemon.cli("run", "-d", "--name", rn1, "busybox", "sleep", "1000")
    try:
        daemon.cli("rename", rn1, rn2)
        assert daemon.inspect(rn2)["Name"] == f"/{rn2}"
        assert daemon.cli("inspect", rn1, check=False).returncode != 0
        top = daemon.cli("top", rn2).stdout.splitlines()
        assert "PID" in top[0] and any("sleep 1000" in line for line in top[1:])
        daemon.cli("pause", rn2)
        assert "Paused" in daemon.cli("ps", "--filter", f"name={rn2}").stdout
        result = daemon.cli("exec", rn2, "true", check=False)
        assert result.returncode != 0 and "paused" in result.stderr.lower()
        daemon.cli("unpause", rn2)
        assert daemon.cli("exec", rn2, "echo", "back").stdout == "back\n"
    finally:
        daemon.cli("rm", "-f", rn2, check=False)


# --- terminals ----------------------------------------------------------------------------


@needs_script
def test_run_it_under_a_terminal(daemon):
    result = in_terminal(f"{POUCH} -H {daemon.host} run -it --rm busybox sh -c 'tty; stty size; exit 6'")
    assert "/dev/pts/" in result.stdout
    assert result.returncode == 6


@needs_script
def test_run_it_interactive_shell_under_a_terminal(daemon):
    result = in_terminal(f"{POUCH} -H {daemon.host} run -it --rm busybox sh",
                         input="echo in-$((6*7))-tty\nexit 3\n")
    assert "in-42-tty" in result.stdout
    assert result.returncode == 3


@needs_script
def test_exec_it_under_a_terminal(daemon):
    ext = unique_name("ext")
    daemon.cli("run", "-d", "--name", ext, "busybox", "sleep", "1000")
    try:
        result = in_terminal(f"{POUCH} -H {daemon.host} exec -it {ext} sh -c 'sleep 0.2; tty; exit 2'")
        assert "/dev/pts/" in result.stdout
        assert result.returncode == 2
        result = in_terminal(f"{POUCH} -H {daemon.host} exec -t {ext} sh -c 'tty'")
        assert "/dev/pts/" in result.stdout
    finally:
        daemon.cli("rm", "-f", ext)


def test_tty_without_local_terminal_is_refused_with_stdin(daemon):
    result = daemon.cli("run", "-it", "--rm", "busybox", "true", check=False)
    assert result.returncode != 0
    assert "the input device is not a TTY" in result.stderr


# --- system -------------------------------------------------------------------------------


def test_version_and_info(daemon):
    version = daemon.cli("version").stdout
    assert "Server: Pouch Engine" in version and "API version:      1.45" in version
    info = daemon.cli("info").stdout
    assert "Runtimes: runc" in info and "Default Runtime: runc" in info
    assert "Storage Driver: overlay2" in info
    assert f"Pouch Root Dir: {daemon.root}" in info
    assert " Plugins:\n  Volume: local\n  Network: bridge host null\n" in info


def test_info_reports_what_the_hosts_cgroups_support(daemon):
    d = daemon
    memory = "/sys/fs/cgroup/memory"
    if not os.path.isdir(memory):
        pytest.skip("not a cgroup v1 host")
    cid = d.cli("create", "--network", "none", "busybox", "true").stdout.strip()
    try:
        fields = json.loads(d.cli("info", "--format", "{{json .}}").stdout)
        assert fields["SwapLimit"] == os.path.exists(f"{memory}/memory.memsw.limit_in_bytes")
        assert fields["KernelMemory"] == os.path.exists(f"{memory}/memory.kmem.limit_in_bytes")
        assert fields["OomKillDisable"] == os.path.exists(f"{memory}/memory.oom_control")
        assert fields["CpuCfsQuota"] == os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        assert fields["MemoryLimit"] and fields["PidsLimit"] == os.path.isdir("/sys/fs/cgroup/pids")
        assert fields["Plugins"]["Network"] == ["bridge", "host", "null"] and fields["Plugins"]["Volume"] == ["local"]
        assert fields["ContainersStopped"] >= 1
        assert fields["Containers"] == fields["ContainersRunning"] + fields["ContainersPaused"] + fields["ContainersStopped"]
        assert ("WARNING: No swap limit support" in fields["Warnings"]) != fields["SwapLimit"]
        shown = d.docker("info", "--format", "{{.SwapLimit}} {{.OomKillDisable}} {{.CPUShares}}").stdout.split()
        assert shown == [str(fields[k]).lower() for k in ("SwapLimit", "OomKillDisable", "CPUShares")]
        result = d.cli("info")
        assert result.stderr.splitlines() == fields["Warnings"] and "WARNING" not in result.stdout
    finally:
        d.cli("rm", cid)


def test_host_flag_and_pouch_host_variable(daemon):
    env = {k: v for k, v in os.environ.items() if k != "POUCH_HOST"}
    via_flag = subprocess.run([POUCH, "-H", daemon.host, "ps", "-a"], capture_output=True, text=True, env=env,
                              timeout=30)
    assert via_flag.returncode == 0 and via_flag.stdout.startswith("CONTAINER ID")
    via_env = subprocess.run([POUCH, "ps", "-a"], capture_output=True, text=True, timeout=30,
                             env=dict(env, POUCH_HOST=daemon.host))
    assert via_env.returncode == 0 and via_env.stdout == via_flag.stdout
    # -H wins over the variable
    wrong = dict(env, POUCH_HOST="unix:///nonexistent/pouchd.sock")
    assert subprocess.run([POUCH, "-H", daemon.host, "version"], capture_output=True, env=wrong,
                          timeout=30).returncode == 0
    missing = subprocess.run([POUCH, "ps"], capture_output=True, text=True, env=wrong, timeout=30)
    assert missing.returncode != 0
    assert "/nonexistent/pouchd.sock" in missing.stderr and "Traceback" not in missing.stderr


# --- the docker CLI -----------------------------------------------------------------------


@needs_docker
@needs_script
def test_docker_run_it_rm_shell(daemon):
    cfg = os.path.join(daemon.base, "docker")
    result = in_terminal(f"DOCKER_CONFIG={cfg} docker -H {daemon.host} run -it --rm --name dkit busybox sh",
                         input="echo via-$((40+2))-docker\nexit 5\n")
    assert "via-42-docker" in result.stdout
    assert result.returncode == 5
    assert "dkit" not in daemon.docker("ps", "-a").stdout


@needs_docker
def test_docker_attach_sees_new_output(daemon):
    dkat = unique_name("dkat")
    daemon.docker("run", "-d", "--name", dkat, "busybox", "sh", "-c",
                  "i=0; while true; do echo dtick$i; i=$((i+1)); sleep 0.1; done")
    try:
        wait_logs(daemon, dkat, "dtick1")
        env = dict(os.environ, DOCKER_CONFIG=os.path.join(daemon.base, "docker"))
        with Streaming(["docker", "-H", daemon.host, "attach", "--no-stdin", dkat], env=env) as s:
            assert s.read_until(b"\n").startswith(b"dtick")
    finally:
        daemon.docker("rm", "-f", dkat)


@needs_docker
def test_docker_ps_images_inspect_formats(daemon):
    dkps = unique_name("dkps")
    daemon.docker("run", "-d", "--name", dkps, "-l", "k=v", "busybox", "sleep", "1000")
    try:
        assert daemon.docker("ps", "--filter", f"name={dkps}", "--format",
                             "{{.Names}} {{.Image}} {{.Label \"k\"}}").stdout.splitlines() == [
            f"{dkps} busybox v"]
        assert "busybox:latest" in daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        assert daemon.docker("inspect", "-f", "{{.Config.Labels.k}} {{.State.Running}}", dkps).stdout == "v true\n"
        assert daemon.docker("image", "inspect", "-f", "{{.Os}}", "busybox").stdout == "linux\n"
    finally:
        daemon.docker("rm", "-f", dkps)


def test_inspect_finds_containers_images_networks_volumes_in_dockers_order(daemon):
    d = daemon
    d.cli("volume", "create", "objx")
    d.cli("volume", "create", "objvol")
    d.cli("network", "create", "objx")
    try:
        for client in (d.cli, d.docker):  # the docker CLI's own lookup gives the same answers
            assert client("inspect", "-f", "{{.Driver}}", "objx", "objvol").stdout == "bridge\nlocal\n"
            assert client("inspect", "--type", "volume", "-f", "{{.Mountpoint}}", "objx").stdout == \
                os.path.join(d.root, "volumes", "objx", "_data") + "\n"
            assert client("inspect", "--type", "network", "-f", "{{.Name}}", "objx").stdout == "objx\n"
            assert client("inspect", "-f", "{{.Os}}", "busybox").stdout == "linux\n"
        missing = d.cli("inspect", "--type", "network", "objvol", check=False)
        assert missing.returncode == 1 and missing.stderr == "Error: No such network: objvol\n"
        missing = d.cli("inspect", "nothing-here", check=False)
        assert missing.returncode == 1 and missing.stderr == "Error: No such object: nothing-here\n"
    finally:
        d.cli("network", "rm", "objx")
        d.cli("volume", "rm", "objx", "objvol")


def test_ps_filters_volume_and_network(daemon, tmp_path):
    psvol = unique_name("psvol")
    psnet1 = unique_name("psnet1")
    d = daemon
    d.cli("network", "create", "psnet")
    try:
        on_vol = d.cli("create", "--name", psvol, "--network", "none", "-v", "psdata:/data",
                       "-v", f"{tmp_path}:/host", "busybox", "true").stdout.strip()
        on_net = d.cli("create", "--name", psnet1, "--network", "psnet", "busybox", "true").stdout.strip()
        net_id = d.cli("network", "inspect", "-f", "{{.Id}}", "psnet").stdout.strip()
        for client in (d.cli, d.docker):
            def ids(*filters: str, client=client) -> list[str]:
                args = [a for f in filters for a in ("--filter", f)]
                return client("ps", "-aq", "--no-trunc", *args).stdout.split()
            assert ids("volume=psdata") == [on_vol]
            assert ids("volume=/data") == ids("volume=/host") == ids(f"volume={tmp_path}") == [on_vol]
            assert ids("volume=nothing") == []
            assert ids("network=psnet") == ids(f"network={net_id[:10]}") == [on_net]
            assert ids("network=psnet", "volume=psdata") == []
            assert sorted(ids("network=psnet", "network=none")) == sorted([on_vol, on_net])
    finally:
        d.cli("rm", "-f", psvol, psnet1, check=False)
        d.cli("network", "rm", "psnet")
        d.cli("volume", "rm", "psdata", check=False)
