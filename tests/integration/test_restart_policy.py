"""Restart policies: no, always, unless-stopped, on-failure[:N], as Docker applies them.

The back-off starts at 100 ms and doubles, so a container that exits at once is
restarted a few times within a second or two, then waits longer and longer (the
tests catch it `restarting` then).
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.integration.conftest import unique_name, wait_for

pytestmark = pytest.mark.usefixtures("clean_containers")  # conftest: the shared daemon is left empty


def state(d, name):
    return d.inspect(name)["State"]


def restart_count(d, name) -> int:
    return d.inspect(name)["RestartCount"]


def test_on_failure_honours_the_retry_count(daemon):
    flaky = unique_name("flaky")
    d = daemon
    d.cli("run", "-d", "--name", flaky, "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
    assert wait_for(lambda: restart_count(d, flaky) == 2 and state(d, flaky)["Status"] == "exited", 20)
    time.sleep(1.0)  # the third failure is not restarted
    info = d.inspect(flaky)
    assert info["RestartCount"] == 2
    assert info["State"]["ExitCode"] == 3 and not info["State"]["Restarting"]
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def test_on_failure_does_not_restart_a_success(daemon):
    ok = unique_name("ok")
    d = daemon
    d.cli("run", "-d", "--name", ok, "--restart", "on-failure", "busybox", "true")
    assert wait_for(lambda: state(d, ok)["Status"] == "exited", 10)
    time.sleep(0.5)  # the behaviour under test: no restart within 5 first back-offs (100 ms)
    assert restart_count(d, ok) == 0 and state(d, ok)["Status"] == "exited"


def test_no_policy_means_no_restart(daemon):
    once = unique_name("once")
    d = daemon
    d.cli("run", "-d", "--name", once, "busybox", "sh", "-c", "exit 1")
    assert wait_for(lambda: state(d, once)["Status"] == "exited", 10)
    time.sleep(0.5)  # the behaviour under test: no restart within 5 first back-offs (100 ms)
    assert restart_count(d, once) == 0
    assert d.inspect(once)["HostConfig"]["RestartPolicy"]["Name"] == "no"


def test_always_backs_off_shows_restarting_and_stop_ends_it(daemon):
    looper = unique_name("looper")
    d = daemon
    d.cli("run", "-d", "--name", looper, "--restart", "always", "busybox", "sh", "-c", "exit 0")
    # 100, 200, 400, 800 ms...: after a few restarts the wait is long enough to be seen
    assert wait_for(lambda: restart_count(d, looper) >= 4 and state(d, looper)["Restarting"], 20, interval=0.02)
    s = state(d, looper)
    assert s["Status"] == "restarting" and s["Running"] is True  # Docker counts restarting as running
    assert "Restarting (0)" in d.cli("ps", "-a", "--filter", f"name={looper}").stdout
    d.cli("stop", looper)  # a restarting container: the pending restart is cancelled
    assert state(d, looper)["Status"] == "exited"
    count = restart_count(d, looper)
    time.sleep(2.5)
    assert state(d, looper)["Status"] == "exited" and restart_count(d, looper) == count


def test_a_crash_is_restarted_but_stop_and_kill_by_the_user_are_not(daemon):
    svc = unique_name("svc")
    d = daemon
    d.cli("run", "-d", "--name", svc, "--restart", "always", "busybox", "sleep", "1000")
    pid = state(d, svc)["Pid"]
    os.kill(pid, signal.SIGKILL)  # the process dies on its own, as far as pouchd knows
    assert wait_for(lambda: state(d, svc)["Running"] and state(d, svc)["Pid"] not in (0, pid), 10)
    assert restart_count(d, svc) == 1
    d.cli("stop", "-t", "1", svc)
    time.sleep(1.0)  # the behaviour under test: the policy does not bring it back
    assert state(d, svc)["Status"] == "exited"
    d.cli("start", svc)  # a start by the user: RestartCount starts again
    assert restart_count(d, svc) == 0 and state(d, svc)["Running"]
    d.cli("kill", svc)  # docker: a kill by the user is not undone by the policy either
    time.sleep(1.0)  # (a window for a restart that must not come)
    assert state(d, svc)["Status"] == "exited" and restart_count(d, svc) == 0


def test_unless_stopped_restarts_after_a_crash(daemon):
    us = unique_name("us")
    d = daemon
    d.cli("run", "-d", "--name", us, "--restart", "unless-stopped", "busybox", "sh", "-c", "sleep 0.3; exit 5")
    assert wait_for(lambda: restart_count(d, us) >= 2, 20)
    d.cli("rm", "-f", us)
    assert us not in d.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_wait_returns_on_an_exit_even_when_the_policy_restarts(daemon):
    waiter = unique_name("waiter")
    d = daemon
    d.cli("run", "-d", "--name", waiter, "--restart", "always", "busybox", "sh", "-c", "sleep 0.5; exit 7")
    assert d.cli("wait", waiter, timeout=20).stdout.strip() == "7"


def test_rm_and_restart_policy_conflict(daemon):
    import docker

    d = daemon
    result = d.cli("run", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert result.returncode == 125 and "Conflicting options: --restart and --rm" in result.stderr
    client = docker.APIClient(base_url=d.host)
    with pytest.raises(docker.errors.APIError) as err:
        client.create_container("busybox", "true", host_config=client.create_host_config(
            auto_remove=True, restart_policy={"Name": "always"}))
    assert err.value.response.status_code == 400 and "restart policy" in str(err.value)
    with pytest.raises(docker.errors.APIError) as err:
        client.create_container("busybox", "true", host_config=client.create_host_config(
            restart_policy={"Name": "always", "MaximumRetryCount": 3}))
    assert err.value.response.status_code == 400 and "maximum retry count" in str(err.value)
    client.close()


def test_docker_cli_run_restart(daemon):
    dk = unique_name("dk")
    d = daemon
    d.docker("run", "-d", "--name", dk, "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 9")
    assert wait_for(lambda: restart_count(d, dk) == 1 and state(d, dk)["Status"] == "exited", 20)
    out = d.docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{.State.ExitCode}}",
                   dk).stdout
    assert out.split() == ["on-failure", "1", "9"]


def test_always_containers_come_back_after_a_host_reboot(fresh_daemon):
    """pouchd, the container's process and its conmon all die (as in a reboot); pouchd
    starts again on the same root and brings up the `always` and `unless-stopped` ones
    (not an `unless-stopped` one the user had stopped, but an `always` one it had)."""
    web = unique_name("web")
    side = unique_name("side")
    parked = unique_name("parked")
    parked_always = unique_name("parked-always")
    plain = unique_name("plain")
    d = fresh_daemon
    d.cli("run", "-d", "--name", web, "--restart", "always", "busybox", "sleep", "1000")
    d.cli("run", "-d", "--name", side, "--restart", "unless-stopped", "busybox", "sleep", "1000")
    d.cli("run", "-d", "--name", parked, "--restart", "unless-stopped", "busybox", "sleep", "1000")
    d.cli("run", "-d", "--name", parked_always, "--restart", "always", "busybox", "sleep", "1000")
    d.cli("run", "-d", "--name", plain, "busybox", "sleep", "1000")
    d.cli("stop", "-t", "1", parked, parked_always)
    victims = {}
    for name in (web, side, plain):
        info = d.inspect(name)
        with open(os.path.join(d.exec_root, "bundles", info["Id"], "conmon.pid")) as f:
            victims[name] = (info["State"]["Pid"], int(f.read().strip()))
    d.kill9()
    for pid, conmon in victims.values():
        for p in (pid, conmon):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid, conmon in victims.values():
        assert wait_for(lambda pid=pid, conmon=conmon: not os.path.exists(f"/proc/{conmon}")
                        and not os.path.exists(f"/proc/{pid}"), 10)
    d.start()
    for name in (web, side, parked_always):
        assert wait_for(lambda name=name: state(d, name)["Status"] == "running", 15), (name, state(d, name))
        assert state(d, name)["Pid"] not in (0, victims.get(name, (0,))[0])
    assert d.cli("exec", web, "echo", "back").stdout == "back\n"
    assert state(d, parked)["Status"] == "exited"
    assert wait_for(lambda: state(d, plain)["Status"] == "exited", 10)


def test_restart_events(daemon):
    ev = unique_name("ev")
    d = daemon
    since = str(time.time())
    d.cli("run", "-d", "--name", ev, "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 2")
    assert wait_for(lambda: restart_count(d, ev) == 1 and state(d, ev)["Status"] == "exited", 20)
    out = d.cli("events", "--since", since, "--until", str(time.time()), "--filter", f"container={ev}",
                "--format", "{{json .}}").stdout
    actions = [json.loads(line)["Action"] for line in out.splitlines()]
    assert actions == ["create", "attach", "start", "die", "start", "die"] or \
        actions == ["create", "start", "die", "start", "die"], actions
