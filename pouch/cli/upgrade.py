"""``pouch upgrade [--image NEW] [--entrypoint CMD] CONTAINER [COMMAND] [ARG...]`` (PouchContainer's verb):
``POST /containers/{id}/upgrade`` with PouchContainer's body (Image, Entrypoint, Cmd)."""

from __future__ import annotations

from pouch.cli.client import quote_name
from pouch.cli.flags import STR, F

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context

UPGRADE_FLAGS = [
    F("--image", kind=STR, help="The image to upgrade the container to (default: the container's own)"),
    F("--entrypoint", kind=STR, help="Overwrite the default ENTRYPOINT of the image"),
]


def upgrade_body(opts: dict[str, Any], command: list[str]) -> dict[str, Any]:
    """The request body of ``pouch upgrade`` (pure): what is not given keeps the container's."""
    entrypoint = opts.get("entrypoint")
    return {
        "Image": opts.get("image") or "",
        "Entrypoint": [entrypoint] if entrypoint is not None else None,
        "Cmd": command or None,
    }


def cmd_upgrade(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [COMMAND] [ARG...]",
                           "Upgrade a container's image in place, keeping its id, name, network and volumes",
                           UPGRADE_FLAGS, argv, interspersed=False, min_args=1)
    name, command = args[0], args[1:]
    ctx.client.request("POST", f"/containers/{quote_name(name)}/upgrade", body=upgrade_body(opts, command)).read()
    ctx.out(name)
    return 0
