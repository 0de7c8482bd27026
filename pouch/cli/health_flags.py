"""Health-check flags of ``run``/``create`` -> ``Config.Healthcheck``, as the docker CLI builds it.

``--health-cmd`` is a ``CMD-SHELL`` test; durations are Go durations (``30s``, ``1m30s``)
sent in nanoseconds; a flag left out is 0 (the image's value, else the daemon's default);
``--no-healthcheck`` sends ``{"Test": ["NONE"]}`` and excludes the other flags. Pure.
"""

from __future__ import annotations

from pouch.cli.flags import INT, STR, F, UsageError
from pouch.cli.values import parse_go_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.flags import Flag

HEALTH_FLAGS: list[Flag] = [
    F("--health-cmd", kind=STR, help="Command to run to check health"),
    F("--health-interval", kind=STR, help="Time between running the check (ms|s|m|h) (default 0s)",
      metavar="duration"),
    F("--health-retries", kind=INT, help="Consecutive failures needed to report unhealthy"),
    F("--health-start-period", kind=STR, help="Start period for the container to initialize before starting "
      "health-retries countdown (ms|s|m|h) (default 0s)", metavar="duration"),
    F("--health-start-interval", kind=STR, help="Time between running the check during the start period "
      "(ms|s|m|h) (default 0s)", metavar="duration"),
    F("--health-timeout", kind=STR, help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
      metavar="duration"),
    F("--no-healthcheck", help="Disable any container-specified HEALTHCHECK"),
]

_DURATIONS = (("health_interval", "Interval"), ("health_timeout", "Timeout"),
              ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval"))


def healthcheck_config(get: Callable[[str], Any]) -> dict[str, Any] | None:
    """The ``Healthcheck`` member of the create body, or None when no flag was given."""
    values: dict[str, Any] = {}
    for dest, key in _DURATIONS:
        text = get(dest)
        if text:
            seconds = parse_go_duration(text)
            if seconds < 0:
                raise UsageError(f"--{dest.replace('_', '-')} cannot be negative")
            values[key] = int(round(seconds * 1e9))
    retries = get("health_retries")
    if retries:
        if retries < 0:
            raise UsageError("--health-retries cannot be negative")
        values["Retries"] = retries
    cmd = get("health_cmd")
    if get("no_healthcheck"):
        if cmd or values:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not cmd and not values:
        return None
    return {"Test": ["CMD-SHELL", cmd] if cmd else [], **values}
