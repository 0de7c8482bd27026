"""The CLI's detach keys: ``--detach-keys``, else ``detachKeys`` in the client config
(``~/.pouch/config.json``, ``$POUCH_CONFIG/config.json``), else ctrl-p,ctrl-q.

The keys go to the daemon (the ``detachKeys`` query of attach, ``DetachKeys`` of an
exec) and, with a TTY, the CLI watches its own input for them (as docker's CLI does):
on the sequence it leaves the session and the process keeps running.
"""

from __future__ import annotations

import json
import os

from pouch.cli.client import CLIError
from pouch.cli.flags import STR, F
from pouch.detachkeys import DEFAULT_DETACH_KEYS, InvalidDetachKeys, parse_detach_keys

DETACH_KEYS_FLAG = F("--detach-keys", kind=STR, help="Override the key sequence for detaching a container")


def configured_detach_keys() -> str:
    """``detachKeys`` of the client config, or "" (no file, no key, or not JSON)."""
    base = os.environ.get("POUCH_CONFIG") or os.path.join(os.path.expanduser("~"), ".pouch")
    try:
        with open(os.path.join(base, "config.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return ""
    keys = doc.get("detachKeys") if isinstance(doc, dict) else None
    return keys if isinstance(keys, str) else ""


def detach_keys(flag_value: str | None) -> tuple[str, bytes]:
    """The keys as given ("" when neither flag nor config sets them: the daemon's default
    applies and nothing is sent, as docker's CLI) and as bytes (for the CLI's own input)."""
    keys = flag_value or configured_detach_keys()
    try:
        return keys, parse_detach_keys(keys or DEFAULT_DETACH_KEYS)
    except InvalidDetachKeys as e:
        raise CLIError(str(e)) from None
