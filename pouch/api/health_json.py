"""Docker's JSON for restart policies and health checks (pure).

``Config.Healthcheck`` (Test, Interval, Timeout, StartPeriod, StartInterval in
nanoseconds, Retries) <-> ``HealthConfig``; ``State.Health`` (Status, FailingStreak,
Log) from ``HealthState``; ``HostConfig.RestartPolicy`` <-> ``RestartPolicy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument
from pouch.models import HealthConfig, HealthState, RestartPolicy
from pouch.services.health import MINIMUM_DURATION
from pouch.services.restart import check_auto_remove, parse_policy

_DURATIONS = (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
              ("StartInterval", "start_interval"))


def _int(value: Any, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidArgument(f"{field}: expected an integer, got {value!r}")
    return int(value)


def healthcheck_from_docker(body: Mapping[str, Any]) -> HealthConfig | None:
    """``Config.Healthcheck`` of a create body, validated as dockerd does."""
    raw = body.get("Healthcheck")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidArgument("Config.Healthcheck: expected an object")
    test = raw.get("Test") or []
    if isinstance(test, str):
        test = [test]
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidArgument("Config.Healthcheck.Test: expected an array of strings")
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidArgument(f"Config.Healthcheck.Test: unknown type {test[0]!r} (NONE, CMD or CMD-SHELL)")
    if test and test[0] != "NONE" and len(test) < 2:
        raise InvalidArgument(f"Config.Healthcheck.Test: {test[0]} needs a command")
    values: dict[str, int] = {}
    for key, name in _DURATIONS:
        value = _int(raw.get(key), f"Config.Healthcheck.{key}")
        if value != 0 and value < MINIMUM_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
        values[name] = value
    retries = _int(raw.get("Retries"), "Config.Healthcheck.Retries")
    if retries < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    return HealthConfig(test=tuple(test), retries=retries, **values)


def healthcheck_to_docker(config: HealthConfig | None) -> dict[str, Any] | None:
    if config is None:
        return None
    out: dict[str, Any] = {"Test": list(config.test)}
    for key, name in _DURATIONS:
        if getattr(config, name):
            out[key] = getattr(config, name)
    if config.retries:
        out["Retries"] = config.retries
    return out


def health_state_to_docker(state: HealthState) -> dict[str, Any]:
    return {
        "Status": state.status,
        "FailingStreak": state.failing_streak,
        "Log": [{"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output} for r in state.log],
    }


def restart_policy_from_docker(host: Mapping[str, Any], auto_remove: bool) -> RestartPolicy:
    """``HostConfig.RestartPolicy`` (``{"Name": "on-failure", "MaximumRetryCount": 3}``)."""
    raw = host.get("RestartPolicy") or {}
    if not isinstance(raw, Mapping):
        raise InvalidArgument("HostConfig.RestartPolicy: expected an object")
    name = raw.get("Name") or ""
    if not isinstance(name, str):
        raise InvalidArgument("HostConfig.RestartPolicy.Name: expected a string")
    try:
        policy = parse_policy(name, _int(raw.get("MaximumRetryCount"), "HostConfig.RestartPolicy.MaximumRetryCount"))
    except InvalidArgument as err:
        raise InvalidArgument(f"HostConfig.RestartPolicy: {err.message}") from None
    check_auto_remove(policy, auto_remove)
    return policy


def restart_policy_to_docker(policy: RestartPolicy) -> dict[str, Any]:
    return {"Name": policy.name, "MaximumRetryCount": policy.maximum_retry_count}
