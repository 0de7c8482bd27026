"""Container verbs that are plain request/response (plus ``logs``): ps, stop,
kill, restart, rm, pause, unpause, wait, rename, top, logs, inspect."""

from __future__ import annotations

import time

from pouch.cli.client import APIError, CLIError, quote_name
from pouch.cli.flags import INT, LIST, STR, F
from pouch.cli.format import (
    TemplateError,
    display_ports,
    ellipsis,
    human_size,
    pretty_json,
    ps_table,
    record,
    render_rows,
    render_template,
    short_id,
    since,
    table,
)
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.main import Context


def for_each(ctx: Context, names: list[str], action: Callable[[str], Any], *, echo: bool = True) -> int:
    """Run ``action(name)`` for every name like docker does: print the name on
    success, the daemon's message on failure, carry on, exit 1 if any failed."""
    failed = False
    for name in names:
        try:
            result = action(name)
        except CLIError as e:
            ctx.err(e.message)
            failed = True
            continue
        if echo:
            ctx.out(name if result is None else str(result))
    return 1 if failed else 0


def _call(ctx: Context, method: str, path: str, params: dict[str, Any] | None = None) -> None:
    ctx.client.request(method, path, params=params).read()


def _c(name: str) -> str:
    return f"/containers/{quote_name(name)}"


# ---------------------------------------------------------------------------

PS_FLAGS = [
    F("-a", "--all", help="Show all containers (default shows just running)"),
    F("-f", "--filter", kind=LIST, help="Filter output based on conditions provided"),
    F("--format", kind=STR, help="Pretty-print containers using a Go template"),
    F("-n", "--last", kind=INT, default=-1, help="Show n last created containers (includes all states)"),
    F("-l", "--latest", help="Show the latest created container (includes all states)"),
    F("--no-trunc", help="Don't truncate output"),
    F("-q", "--quiet", help="Only display container IDs"),
    F("-s", "--size", help="Display total file sizes"),
]


PS_HEADERS: dict[str, Any] = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
    "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS",
    "Label": lambda name: name, "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
    "Platform": "PLATFORM",
}


def ps_template_fields(c: dict[str, Any], now: float, trunc: bool) -> Any:
    """docker's ``ps --format`` context (``{{.ID}}``, ``{{.Names}}``, ``{{.Label "k"}}``...)."""
    command = c.get("Command", "")
    labels = c.get("Labels") or {}
    image = c.get("Image", "")
    names = [n.lstrip("/") for n in c.get("Names") or []]
    if trunc:
        names = [n for n in names if "/" not in n][:1] or names
    size = human_size(c.get("SizeRw") or 0)
    if c.get("SizeRootFs"):
        size += f" (virtual {human_size(c['SizeRootFs'])})"
    mounts = c.get("Mounts") or []
    return record("*formatter.ContainerContext", {
        "ID": short_id(c.get("Id", ""), trunc),
        "Image": short_id(image) if trunc and image.startswith("sha256:") else image,
        "Command": '"' + (ellipsis(command, 20) if trunc else command) + '"',
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(c.get("Created", now))),
        "RunningFor": since(c.get("Created", now), now),
        "Ports": display_ports(c.get("Ports") or []),
        "State": c.get("State", ""),
        "Status": c.get("Status", ""),
        "Size": size,
        "Names": ",".join(names),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": lambda name: labels.get(name, ""),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in mounts),
        "LocalVolumes": str(sum(1 for m in mounts if m.get("Driver") == "local")),
        "Networks": ",".join(sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())),
        "Platform": None,
    })


def cmd_ps(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "List containers", PS_FLAGS, argv, max_args=0)
    limit = 1 if opts["latest"] else opts["last"]
    trunc = not opts["no_trunc"]
    size = opts["size"] or bool(opts["format"]) and opts["format"] != "table" and _format_uses_size(opts["format"])
    params = {
        "all": True if opts["all"] or limit > 0 else None,
        "limit": limit if limit > 0 else None,
        "size": True if size else None,
        "filters": parse_filters(opts["filter"]) or None,
    }
    containers = ctx.client.get("/containers/json", params) or []
    if opts["quiet"]:
        for c in containers:
            ctx.out(short_id(c.get("Id", ""), trunc))
        return 0
    now = time.time()
    if opts["format"] and opts["format"] != "table":
        return print_templated(ctx, opts["format"], [ps_template_fields(c, now, trunc) for c in containers],
                               PS_HEADERS, ps_errors=True)
    ctx.stdout.write(ps_table(containers, now, trunc=trunc))
    return 0


def _format_uses_size(fmt: str) -> bool:
    """docker's ``ps`` runs the whole ``--format`` text once on an empty container first: its
    errors come from there (``failed to parse/execute template``, positions counted in the text
    as given), and ``.Size`` in it asks the daemon for sizes."""
    probe = ps_template_fields({}, 0.0, True)
    try:
        render_template(fmt, probe)
    except TemplateError as e:
        failed = "execute" if 'executing "' in str(e) else "parse"
        raise CLIError(f"failed to {failed} template: {e}") from None
    return "Size" in probe.used


def print_templated(ctx: Context, fmt: str, rows: list[Any], headers: dict[str, Any], *, ps_errors: bool = False) -> int:
    """A list verb's ``--format`` (docker's formatter: ``table``, ``json``, Go templates). docker's
    ``ps`` says ``failed to parse/execute template``, the other lists ``template parsing error``."""
    try:
        text = render_rows(fmt, rows, headers)
    except TemplateError as e:
        if not ps_errors:
            raise CLIError(f"template parsing error: {e}") from None
        failed = "execute" if 'executing "' in str(e) else "parse"
        raise CLIError(f"failed to {failed} template: {e}") from None
    ctx.stdout.write(text)
    return 0


# ---------------------------------------------------------------------------

def cmd_stop(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
                           [F("-t", "--time", kind=INT, help="Seconds to wait for stop before killing it")],
                           argv, min_args=1)
    params = {"t": opts["time"]}
    return for_each(ctx, args, lambda n: _call(ctx, "POST", f"{_c(n)}/stop", params))


def cmd_restart(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
                           [F("-t", "--time", kind=INT, help="Seconds to wait for stop before killing the container")],
                           argv, min_args=1)
    params = {"t": opts["time"]}
    return for_each(ctx, args, lambda n: _call(ctx, "POST", f"{_c(n)}/restart", params))


def cmd_kill(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
                           [F("-s", "--signal", kind=STR, default="KILL", help='Signal to send to the container')],
                           argv, min_args=1)
    params = {"signal": opts["signal"]}
    return for_each(ctx, args, lambda n: _call(ctx, "POST", f"{_c(n)}/kill", params))


def cmd_rm(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
                           [F("-f", "--force", help="Force the removal of a running container (uses SIGKILL)"),
                            F("-v", "--volumes", help="Remove anonymous volumes associated with the container")],
                           argv, min_args=1)
    params = {"force": True if opts["force"] else None, "v": True if opts["volumes"] else None}
    return for_each(ctx, args, lambda n: _call(ctx, "DELETE", _c(n), params))


def cmd_pause(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", [], argv, min_args=1)
    return for_each(ctx, args, lambda n: _call(ctx, "POST", f"{_c(n)}/pause"))


def cmd_unpause(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", [], argv, min_args=1)
    return for_each(ctx, args, lambda n: _call(ctx, "POST", f"{_c(n)}/unpause"))


def cmd_wait(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
                        [], argv, min_args=1)
    return for_each(ctx, args, lambda n: (ctx.client.post(f"{_c(n)}/wait") or {}).get("StatusCode", 0))


def cmd_rename(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER NEW_NAME", "Rename a container", [], argv, min_args=2, max_args=2)
    old, new = args
    if not new.strip():
        raise CLIError("Error: Neither old nor new names may be empty")
    try:
        ctx.client.request("POST", f"{_c(old)}/rename", params={"name": new}).read()
    except APIError as e:
        raise CLIError(f"{e.message}\nError: failed to rename container named {old}") from None
    return 0


def cmd_top(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER [ps OPTIONS]", "Display the running processes of a container", [], argv,
                        interspersed=False, min_args=1)
    params = {"ps_args": " ".join(args[1:]) or None}
    result = ctx.client.get(f"{_c(args[0])}/top", params) or {}
    rows = [[str(v) for v in proc] for proc in result.get("Processes") or []]
    ctx.stdout.write(table(list(result.get("Titles") or []), rows, minwidth=20))
    return 0


# ---------------------------------------------------------------------------
# inspect

INSPECT_FLAGS = [
    F("-f", "--format", kind=STR, help="Format the output using the given Go template"),
    F("-s", "--size", help="Display total file sizes if the type is container"),
    F("--type", kind=STR, help="Return JSON for specified type"),
]


#: What ``inspect`` without ``--type`` tries, in the docker CLI's order, and where each is.
INSPECT_KINDS = {
    "container": lambda name: f"{_c(name)}/json",
    "image": lambda name: f"/images/{quote_name(name)}/json",
    "network": lambda name: f"/networks/{quote_name(name)}",
    "volume": lambda name: f"/volumes/{quote_name(name)}",
}


def inspect_objects(ctx: Context, names: list[str], kind: str | None, size: bool = False
                    ) -> tuple[list[Any], list[str]]:
    """Look each name up as a container, an image, a network, a volume (docker's order),
    or only as ``kind``; return (found objects, error lines)."""
    found, errors = [], []
    for name in names:
        obj = None
        last: APIError | None = None
        for what in ([kind] if kind else list(INSPECT_KINDS)):
            path = INSPECT_KINDS[what](name)
            params = {"size": True} if size and what == "container" else None
            try:
                obj = ctx.client.get(path, params)
                break
            except APIError as e:
                if e.status != 404:
                    raise
                last = e
        if obj is None:
            if kind and last is not None:
                errors.append(f"Error: No such {kind}: {name}")
            else:
                errors.append(f"Error: No such object: {name}")
        else:
            found.append(obj)
    return found, errors


def print_inspect(ctx: Context, objects: list[Any], template: str | None) -> list[str]:
    """The objects as JSON, or each through ``template``; docker's error line per object the
    template fails on (after a blank line on stdout), a template that does not parse exits 64."""
    if not template:
        ctx.out(pretty_json(objects))
        return []
    failed = []
    for obj in objects:
        try:
            ctx.out(render_template(template, obj))
        except TemplateError as e:
            if 'executing "' not in str(e):
                raise CLIError(f"template parsing error: {e}", 64) from None
            failed.append(f"template parsing error: {e}")
    if failed:
        ctx.out("")
    return failed


def inspect_verb(ctx: Context, argv: list[str], kind: str | None, synopsis: str, description: str) -> int:
    spec = INSPECT_FLAGS if kind is None else [
        f for f in INSPECT_FLAGS if f.dest != "type" and (kind == "container" or f.dest != "size")]
    opts, args = ctx.parse(synopsis, description, spec, argv, min_args=1)
    kind = kind or opts.get("type") or None
    if kind is not None and kind not in INSPECT_KINDS:
        raise CLIError(f'unknown type: "{kind}": must be one of ' + ", ".join(f'"{k}"' for k in INSPECT_KINDS))
    return inspect_and_print(ctx, args, kind, opts["format"], bool(opts.get("size")))


def inspect_and_print(ctx: Context, names: list[str], kind: str | None, template: str | None,
                      size: bool = False) -> int:
    """``inspect`` of ``names`` (as :func:`inspect_objects`): the objects on stdout, an error
    line per name not found on stderr, 1 if there was one."""
    found, errors = inspect_objects(ctx, names, kind, size)
    if found or not template:
        errors = print_inspect(ctx, found, template) + errors
    for line in errors:
        ctx.err(line)
    return 1 if errors else 0


def cmd_inspect(ctx: Context, argv: list[str]) -> int:
    return inspect_verb(ctx, argv, None, "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Pouch objects")


def cmd_container_inspect(ctx: Context, argv: list[str]) -> int:
    return inspect_verb(ctx, argv, "container", "[OPTIONS] CONTAINER [CONTAINER...]",
                        "Display detailed information on one or more containers")
