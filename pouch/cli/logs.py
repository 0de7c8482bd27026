"""``pouch logs``: a container's log, followed with ``-f``; ``--since``/``--until`` as docker.

A module of its own: the other container verbs do not load the stream copier.
"""

from __future__ import annotations

import sys
import time

from pouch.cli.client import quote_name
from pouch.cli.flags import STR, F
from pouch.cli.stream import copy_output
from pouch.cli.values import parse_since

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pouch.cli.main import Context


LOGS_FLAGS = [
    F("--details", help="Show extra details provided to logs"),
    F("-f", "--follow", help="Follow log output"),
    F("--init", help="Show the init's own console of a rich container instead of its app's log"),
    F("--since", kind=STR, help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
    F("-n", "--tail", kind=STR, default="all", help="Number of lines to show from the end of the logs"),
    F("-t", "--timestamps", help="Show timestamps"),
    F("--until", kind=STR, help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
]


def cmd_logs(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER", "Fetch the logs of a container", LOGS_FLAGS, argv,
                           min_args=1, max_args=1)
    client = ctx.client
    info = client.get(f"/containers/{quote_name(args[0])}/json")
    now = time.time()
    params = {
        "stdout": True, "stderr": True,
        "follow": True if opts["follow"] else None,
        "tail": opts["tail"],
        "since": parse_since(opts["since"], now) if opts["since"] else None,
        "until": parse_since(opts["until"], now) if opts["until"] else None,
        "timestamps": True if opts["timestamps"] else None,
        "details": True if opts["details"] else None,
        "init": True if opts["init"] else None,
    }
    resp = client.request("GET", f"/containers/{quote_name(info['Id'])}/logs", params=params)
    tty = bool((info.get("Config") or {}).get("Tty"))
    copy_output(resp.iter_chunks(), tty=tty, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)
    return 0
