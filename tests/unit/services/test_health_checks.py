"""Health checks: config merge, probe command, Docker's state machine, JSON and CLI flags (pure)."""

from __future__ import annotations

import pytest

from pouch.api.container_json import container_state, status_text
from pouch.api.convert import create_options_from_docker
from pouch.api.filters import container_matches
from pouch.api.health_json import healthcheck_from_docker, healthcheck_to_docker
from pouch.errors import InvalidArgument
from pouch.models import (
    Container,
    ContainerState,
    CreateOptions,
    HealthConfig,
    HealthResult,
    HealthState,
    Status,
)
from pouch.services.health import (
    MAX_OUTPUT,
    SECOND,
    apply_result,
    container_health,
    enabled,
    go_duration,
    health_at_start,
    health_at_stop,
    health_text,
    merge_healthcheck,
    probe_argv,
    truncate_output,
    with_image_healthcheck,
)


def result(code: int, output: str = "") -> HealthResult:
    return HealthResult("2024-01-01T00:00:00.000000Z", "2024-01-01T00:00:00.100000Z", code, output)


def test_merge_takes_the_images_fields_the_user_left_out():
    image = HealthConfig(test=("CMD-SHELL", "curl -f localhost"), interval=5 * SECOND, retries=2)
    user = HealthConfig(interval=1 * SECOND, timeout=3 * SECOND)
    assert merge_healthcheck(user, image) == HealthConfig(("CMD-SHELL", "curl -f localhost"), 1 * SECOND,
                                                          3 * SECOND, 0, 0, 2)
    assert merge_healthcheck(None, image) == image
    assert merge_healthcheck(HealthConfig(("NONE",)), image).test == ("NONE",)
    assert merge_healthcheck(None, None) is None


def test_create_resolves_the_image_healthcheck():
    image_config = {"config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 2 * SECOND}}}
    opts = with_image_healthcheck(CreateOptions(image="x"), image_config)
    assert opts.healthcheck == HealthConfig(("CMD", "true"), interval=2 * SECOND)
    assert with_image_healthcheck(CreateOptions(image="x"), {"config": {}}).healthcheck is None


def test_probe_argv_and_enabled():
    assert probe_argv(HealthConfig(("CMD", "cat", "/ok"))) == ["cat", "/ok"]
    assert probe_argv(HealthConfig(("CMD-SHELL", "test -f /ok && echo yes"))) == ["/bin/sh", "-c",
                                                                                  "test -f /ok && echo yes"]
    assert enabled(HealthConfig(("CMD", "true")))
    assert not enabled(HealthConfig(("NONE",))) and not enabled(None) and not enabled(HealthConfig())


def test_state_machine_success_failures_and_retries():
    config = HealthConfig(("CMD", "x"), retries=3)
    s = apply_result(None, result(1), config, since_start=5)
    assert (s.status, s.failing_streak) == ("starting", 1)
    s = apply_result(s, result(1), config, 6)
    s = apply_result(s, result(1), config, 7)
    assert (s.status, s.failing_streak) == ("unhealthy", 3)
    s = apply_result(s, result(0, "ok"), config, 8)
    assert (s.status, s.failing_streak) == ("healthy", 0)
    s = apply_result(s, result(2), config, 9)
    assert (s.status, s.failing_streak) == ("healthy", 1)  # one failure does not make it unhealthy


def test_start_period_failures_do_not_count_until_the_first_success():
    config = HealthConfig(("CMD", "x"), retries=1, start_period=10 * SECOND)
    s = apply_result(None, result(1), config, since_start=3)
    assert (s.status, s.failing_streak) == ("starting", 0)
    s = apply_result(s, result(1), config, since_start=11)
    assert s.status == "unhealthy"


def test_default_retries_are_three_and_the_log_keeps_five():
    config = HealthConfig(("CMD", "x"))
    s = None
    for i in range(7):
        s = apply_result(s, result(1, f"try {i}"), config, 100)
    assert s.status == "unhealthy" and s.failing_streak == 7
    assert [r.output for r in s.log] == [f"try {i}" for i in range(2, 7)]


def test_a_start_again_keeps_the_log_and_goes_back_to_starting():
    config = HealthConfig(("CMD", "x"), retries=1)
    before = HealthState("unhealthy", 4, (result(0), result(1, "bad")))
    assert health_at_start(before, config) == HealthState("starting", 0, before.log)  # as dockerd's initHealthMonitor
    assert health_at_start(None, config) == HealthState("starting", 0, ())
    assert health_at_start(None, HealthConfig(("NONE",))) is None


def test_output_is_truncated_to_4k():
    assert truncate_output(b"a" * MAX_OUTPUT) == "a" * MAX_OUTPUT
    assert truncate_output(b"a" * (MAX_OUTPUT + 10)) == "a" * MAX_OUTPUT + "..."


def test_go_duration():
    assert [go_duration(s) for s in (30, 1.5, 0.5, 60, 90, 3600)] == ["30s", "1.5s", "500ms", "1m0s", "1m30s",
                                                                     "1h0m0s"]


def test_api_healthcheck_parsing_and_validation():
    body = {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000, "Retries": 2}}
    config = healthcheck_from_docker(body)
    assert config == HealthConfig(("CMD-SHELL", "true"), interval=SECOND, retries=2)
    assert healthcheck_to_docker(config) == body["Healthcheck"]
    assert healthcheck_from_docker({}) is None
    for bad, message in [
        ({"Test": ["CMD-SHELL", "x"], "Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Test": ["CMD-SHELL", "x"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
        ({"Test": ["BOGUS", "x"]}, "unknown type"),
        ({"Test": ["CMD"]}, "needs a command"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            healthcheck_from_docker({"Healthcheck": bad})
    opts = create_options_from_docker({"Image": "x", "Healthcheck": {"Test": ["NONE"]}})
    assert opts.healthcheck == HealthConfig(("NONE",))


def _container(health: HealthState | None, config: HealthConfig | None, status=Status.RUNNING) -> Container:
    return Container(id="c" * 64, name="hc", image_id="sha256:" + "0" * 64, image_ref="busybox",
                     created="2024-01-01T00:00:00Z", options=CreateOptions(image="busybox", healthcheck=config),
                     state=ContainerState(status=status, started_at="2024-01-01T00:00:00.000000Z", health=health))


def test_ps_status_inspect_and_filter_show_the_health():
    config = HealthConfig(("CMD", "true"))
    healthy = _container(HealthState("healthy", 0, (result(0, "fine"),)), config)
    starting = _container(HealthState(), config)
    plain = _container(None, None)
    now = 1704067200 + 65
    assert status_text(healthy, now) == "Up About a minute (healthy)"
    assert status_text(starting, now).endswith("(health: starting)")
    assert status_text(plain, now) == "Up About a minute"
    state = container_state(healthy)["Health"]
    assert state == {"Status": "healthy", "FailingStreak": 0, "Log": [
        {"Start": "2024-01-01T00:00:00.000000Z", "End": "2024-01-01T00:00:00.100000Z", "ExitCode": 0,
         "Output": "fine"}]}
    assert "Health" not in container_state(plain)
    assert container_health(plain) == "none" and container_health(healthy) == "healthy"
    assert container_matches({"health": ["healthy"]}, healthy)
    assert not container_matches({"health": ["healthy"]}, starting)
    assert container_matches({"health": ["none"]}, plain)
    with pytest.raises(InvalidArgument, match="health"):
        container_matches({"health": ["sick"]}, plain)
    assert health_text(None) == ""


def test_cli_health_flags():
    from pouch.cli.flags import UsageError
    from pouch.cli.options import build_create_body

    body = build_create_body({"health_cmd": "wget -q localhost", "health_interval": "2s", "health_timeout": "500ms",
                              "health_retries": 4, "health_start_period": "1m"}, "busybox", [])
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 2 * SECOND,
                                   "Timeout": SECOND // 2, "StartPeriod": 60 * SECOND, "Retries": 4}
    assert build_create_body({"no_healthcheck": True}, "busybox", [])["Healthcheck"] == {"Test": ["NONE"]}
    assert build_create_body({"health_interval": "3s"}, "busybox", [])["Healthcheck"] == {"Test": [],
                                                                                        "Interval": 3 * SECOND}
    assert "Healthcheck" not in build_create_body({}, "busybox", [])
    with pytest.raises(UsageError, match="conflicts"):
        build_create_body({"no_healthcheck": True, "health_cmd": "true"}, "busybox", [])


def test_a_stopped_container_is_unhealthy_with_its_probes_kept():
    from pouch.models import HealthResult, HealthState

    probes = (HealthResult("s", "e", 0, "ok"),)
    assert health_at_stop(HealthState("healthy", 0, probes)) == HealthState("unhealthy", 0, probes)
    assert health_at_stop(None) is None  # no healthcheck: nothing to report
