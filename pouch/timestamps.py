"""Container timestamps as Docker writes them (RFC 3339, UTC, microseconds shown), and back."""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime(_FORMAT + "Z")


def rfc3339_of(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(_FORMAT + "Z")


def epoch_of(text: str) -> float | None:
    """Seconds since the epoch of a timestamp these functions wrote (digits past microseconds
    ignored); None for anything else."""
    try:
        return datetime.strptime(text[:26].rstrip("Z"), _FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
