"""Signal names as Docker spells them (``9``, ``KILL``, ``SIGKILL``, ``SIGRTMIN+3``)."""

from __future__ import annotations

import signal as signal_module

from pouch.errors import InvalidArgument


def parse_signal(value: str | int | None, default: int = signal_module.SIGKILL) -> int:
    """Docker's signal spellings: ``9``, ``KILL``, ``SIGKILL``, ``SIGRTMIN+3``."""
    if value is None or value == "":
        return default
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if not 0 < number < signal_module.NSIG:
            raise InvalidArgument(f"Invalid signal: {value}")
        return number
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
        base, _, offset = name.partition("+" if "+" in name else "-")
        if offset.isdigit():
            number = signal_module.SIGRTMIN + int(offset) if base == "SIGRTMIN" else signal_module.SIGRTMAX - int(offset)
            return int(number)
    try:
        return int(signal_module.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {value}") from None


