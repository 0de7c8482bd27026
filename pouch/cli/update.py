"""``pouch update``: containers' resources and restart policy, and Pouch's ``--env``.

A module of its own: the other container verbs (``stop``, ``rm``...) do not load the resource flags.
"""

from __future__ import annotations

from pouch.cli.client import CLIError, quote_name
from pouch.cli.containers import for_each
from pouch.cli.resource_flags import UPDATE_FLAGS, update_body

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pouch.cli.main import Context


def cmd_update(ctx: Context, argv: list[str]) -> int:
    """Resources and the restart policy (resource_flags.UPDATE_FLAGS), and Pouch's ``--env``."""
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Update the configuration of one or more containers",
                           UPDATE_FLAGS, argv, min_args=1)
    body = update_body(opts)
    if not body:
        raise CLIError("you must provide one or more flags when using this command")
    return for_each(ctx, args, lambda n: (ctx.client.post(f"/containers/{quote_name(n)}/update", body=body), n)[1])
