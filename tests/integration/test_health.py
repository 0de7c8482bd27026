"""Health checks: --health-* flags and the image's HEALTHCHECK, probed through exec by pouchd."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.conftest import unique_name, wait_for

pytestmark = pytest.mark.usefixtures("clean_containers")  # conftest: the shared daemon is left empty


def health(d, name) -> dict:
    return d.inspect(name)["State"].get("Health") or {}


def test_healthy_then_unhealthy_with_log_ps_filter_and_events(daemon):
    hc = unique_name("hc")
    d = daemon
    since = str(time.time())
    d.cli("run", "-d", "--name", hc, "--health-cmd", "cat /tmp/ok && echo fine", "--health-interval", "300ms",
          "--health-retries", "2", "busybox", "sh", "-c", "touch /tmp/ok; sleep 1000")
    cfg = d.inspect(hc)["Config"]["Healthcheck"]
    assert cfg == {"Test": ["CMD-SHELL", "cat /tmp/ok && echo fine"], "Interval": 300_000_000, "Retries": 2}
    assert wait_for(lambda: health(d, hc).get("Status") == "healthy", 15)
    h = health(d, hc)
    assert h["FailingStreak"] == 0 and h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
    assert "(healthy)" in d.cli("ps", "--filter", f"name={hc}").stdout
    assert d.cli("ps", "-q", "--filter", "health=healthy").stdout.split() == [d.inspect(hc)["Id"][:12]]
    assert d.cli("ps", "-q", "--filter", "health=unhealthy").stdout == ""

    d.cli("exec", hc, "rm", "/tmp/ok")
    assert wait_for(lambda: health(d, hc).get("Status") == "unhealthy", 15)
    h = health(d, hc)
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
    assert "No such file" in h["Log"][-1]["Output"]
    assert "(unhealthy)" in d.cli("ps", "--filter", f"name={hc}").stdout
    assert wait_for(lambda: len(health(d, hc)["Log"]) == 5, 15)  # the last five only

    out = d.cli("events", "--since", since, "--until", str(time.time()), "--filter", f"container={hc}",
                "--filter", "event=health_status", "--format", "{{.Action}}").stdout
    assert out.splitlines() == ["health_status: healthy", "health_status: unhealthy"]


def test_starting_state_timeout_and_checks_stop_with_the_container(daemon):
    slow = unique_name("slow")
    d = daemon
    d.cli("run", "-d", "--name", slow, "--health-cmd", "sleep 5", "--health-interval", "200ms",
          "--health-timeout", "300ms", "--health-retries", "1", "--health-start-period", "1s",
          "busybox", "sleep", "1000")
    assert health(d, slow)["Status"] == "starting"
    assert "(health: starting)" in d.cli("ps", "--filter", f"name={slow}").stdout
    assert d.cli("ps", "-q", "--filter", "health=starting").stdout.strip()
    assert wait_for(lambda: health(d, slow).get("Status") == "unhealthy", 15)
    last = health(d, slow)["Log"][-1]
    assert last["ExitCode"] == -1 and last["Output"] == "Health check exceeded timeout (300ms)"
    # each probe is killed at its timeout: a `sleep 5` seen now (a later probe may be in flight)
    # is gone well before its 5 s are up
    def probe_pids() -> set[str]:
        rows = d.cli("top", slow).stdout.splitlines()[1:]
        return {row.split()[1] for row in rows if "sleep 5" in row}

    seen = probe_pids()
    assert wait_for(lambda: not (seen & probe_pids()), 2)
    d.cli("stop", "-t", "1", slow)
    log_len = len(health(d, slow)["Log"])
    time.sleep(1)  # the behaviour under test: a window in which a probe would have come
    assert len(health(d, slow)["Log"]) == log_len  # no probes while stopped


def test_the_health_log_is_kept_across_a_restart_and_the_status_starts_again(daemon):
    again = unique_name("again")
    d = daemon
    d.cli("run", "-d", "--name", again, "--health-cmd", "echo probe-$$", "--health-interval", "1s",
          "--health-start-period", "30s", "busybox", "sleep", "1000")
    assert wait_for(lambda: health(d, again).get("Status") == "healthy", 15)
    d.cli("stop", "-t", "1", again)
    before = health(d, again)["Log"]
    assert before
    assert health(d, again)["Status"] == "unhealthy"  # as dockerd: unhealthy once the monitor stops
    d.cli("start", again)
    after = health(d, again)
    assert after["Status"] == "starting" and after["FailingStreak"] == 0
    assert after["Log"][:len(before)] == before  # as Docker: the last probes survive the restart
    assert "(health: starting)" in d.cli("ps", "--filter", f"name={again}").stdout
    assert wait_for(lambda: health(d, again).get("Status") == "healthy", 15)
    d.cli("restart", "-t", "1", again)
    assert health(d, again)["Status"] == "starting" and len(health(d, again)["Log"]) >= len(before)


def test_image_healthcheck_and_no_healthcheck(daemon, tmp_path):
    from_image = unique_name("from-image")
    tuned = unique_name("tuned")
    unchecked = unique_name("unchecked")
    d = daemon
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD ["true"]\n')
    d.cli("build", "-q", "-t", "hc-image:1", str(ctx), timeout=120)
    try:
        d.cli("run", "-d", "--name", from_image, "hc-image:1", "sleep", "1000")
        assert d.inspect(from_image)["Config"]["Healthcheck"]["Test"] == ["CMD", "true"]
        assert wait_for(lambda: health(d, from_image).get("Status") == "healthy", 15)
        # the user's flags override single fields of the image's check
        d.cli("run", "-d", "--name", tuned, "--health-interval", "5s", "hc-image:1", "sleep", "1000")
        assert d.inspect(tuned)["Config"]["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000,
                                                                "Retries": 1}
        d.cli("run", "-d", "--name", unchecked, "--no-healthcheck", "hc-image:1", "sleep", "1000")
        info = d.inspect(unchecked)
        assert info["Config"]["Healthcheck"]["Test"] == ["NONE"] and "Health" not in info["State"]
        assert d.cli("ps", "-q", "--filter", "health=none", "--filter", f"name={unchecked}").stdout.strip()
    finally:
        d.remove_all_containers()
        d.cli("rmi", "hc-image:1", check=False)


def test_health_survives_a_daemon_restart(fresh_daemon):
    steady = unique_name("steady")
    d = fresh_daemon
    d.cli("run", "-d", "--name", steady, "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms",
          "busybox", "sh", "-c", "touch /tmp/ok; sleep 1000")
    assert wait_for(lambda: health(d, steady).get("Status") == "healthy", 15)
    d.stop()
    d.start()
    assert health(d, steady)["Status"] == "healthy"  # kept
    d.cli("exec", steady, "rm", "/tmp/ok")  # and probed again by the new pouchd
    assert wait_for(lambda: health(d, steady).get("Status") == "unhealthy", 15)


def test_docker_cli_and_docker_py_see_the_health(daemon):
    import docker

    d = daemon
    client = docker.DockerClient(base_url=d.host)
    try:
        c = client.containers.run("busybox", ["sleep", "1000"], name="dpy-hc", detach=True,
                                  healthcheck={"test": ["CMD", "true"], "interval": 200_000_000})
        assert wait_for(lambda: (client.api.inspect_container(c.id)["State"].get("Health") or {}).get("Status")
                        == "healthy", 15)
        out = d.docker("inspect", "-f", "{{json .State.Health.Status}}", "dpy-hc").stdout.strip()
        assert json.loads(out) == "healthy"
        assert "(healthy)" in d.docker("ps", "--filter", "health=healthy").stdout
    finally:
        client.close()
