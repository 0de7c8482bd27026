"""``pouch volume create|ls|inspect|rm|prune``."""

from __future__ import annotations

from pouch.cli.client import CLIError, quote_name
from pouch.cli.containers import for_each, inspect_and_print
from pouch.cli.flags import LIST, STR, F
from pouch.cli.format import human_size, record, table
from pouch.cli.objects import filters_query, key_values, print_template_lines
from pouch.cli.prune import confirm, prune_volumes, reclaimed_line
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


# --- pouch volume ------------------------------------------------------------------------------

def _v(name: str) -> str:
    return f"/volumes/{quote_name(name)}"


def cmd_volume_create(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] [VOLUME]", "Create a volume",
                           [F("-d", "--driver", kind=STR, default="local", help="Specify volume driver name"),
                            F("--label", kind=LIST, help="Set metadata for a volume"),
                            F("--name", kind=STR, help="Specify volume name"),
                            F("-o", "--opt", kind=LIST, help="Set driver specific options")],
                           argv, max_args=1)
    if args and opts["name"] and args[0] != opts["name"]:
        raise CLIError("conflicting options: either specify --name or provide positional arg, not both")
    body = {"Name": args[0] if args else opts["name"] or "", "Driver": opts["driver"],
            "DriverOpts": key_values(opts["opt"] or [], "--opt"),
            "Labels": key_values(opts["label"] or [], "--label")}
    ctx.out(ctx.client.post("/volumes/create", body=body)["Name"])
    return 0


VOLUME_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
                  "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
                  "Availability": "AVAILABILITY", "Status": "STATUS"}


def _format_row(v: dict[str, Any]) -> Any:
    """docker's ``volume ls --format`` context (``*formatter.volumeContext``)."""
    labels = v.get("Labels") or {}
    usage = v.get("UsageData") or {}
    return record("*formatter.volumeContext", {
        "Name": v.get("Name", ""), "Driver": v.get("Driver", ""), "Scope": v.get("Scope", "local"),
        "Mountpoint": v.get("Mountpoint", ""), "Labels": ",".join(f"{k}={val}" for k, val in sorted(labels.items())),
        "Label": lambda name: labels.get(name, ""),
        "Links": str(usage["RefCount"]) if usage.get("RefCount", -1) != -1 else "N/A",
        "Size": human_size(usage["Size"], 4) if usage.get("Size", -1) != -1 else "N/A",
        "Group": "N/A", "Availability": "N/A", "Status": "N/A",
    })


def cmd_volume_ls(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "List volumes",
                        [F("-f", "--filter", kind=LIST, help="Provide filter values (e.g. 'dangling=true')"),
                         F("--format", kind=STR, help="Pretty-print volumes using a Go template"),
                         F("-q", "--quiet", help="Only display volume names")], argv, max_args=0)
    volumes = sorted((ctx.client.get("/volumes", filters_query(opts["filter"] or [])) or {}).get("Volumes") or [],
                     key=lambda v: v.get("Name", ""))
    if opts["quiet"]:
        for v in volumes:
            ctx.out(v["Name"])
    elif opts["format"] and opts["format"] != "table":
        print_template_lines(ctx, opts["format"], [_format_row(v) for v in volumes], VOLUME_HEADERS)
    else:
        ctx.stdout.write(table(["DRIVER", "VOLUME NAME"], [[v.get("Driver", ""), v["Name"]] for v in volumes], padding=4))
    return 0


def cmd_volume_inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes",
                           [F("-f", "--format", kind=STR, help="Format output using a Go template")], argv, min_args=1)
    return inspect_and_print(ctx, args, "volume", opts["format"])


def cmd_volume_rm(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes",
                           [F("-f", "--force", help="Force the removal of one or more volumes")], argv, min_args=1)
    params = {"force": True if opts["force"] else None}

    def remove(name: str) -> None:
        ctx.client.request("DELETE", _v(name), params=params).read()

    return for_each(ctx, args, remove)


def cmd_volume_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Remove the anonymous local volumes no container uses (named ones too with -a)",
                        [F("-a", "--all", help="Remove all unused volumes, not just anonymous ones"),
                         F("--filter", kind=LIST, help="Provide filter values (e.g. 'label=<label>')"),
                         F("-f", "--force", help="Do not prompt for confirmation")], argv, max_args=0)
    filters = parse_filters(opts["filter"] or [])
    if opts["all"]:
        if "all" in filters:
            raise CLIError("conflicting options: cannot specify both --all and --filter all=1")
        filters["all"] = ["true"]
    named_too = any(v.lower() in ("1", "true") for v in filters.get("all", []))
    which = "all local volumes" if named_too else "anonymous local volumes"
    if not opts["force"] and not confirm(ctx, f"WARNING! This will remove {which} not used by at least one container."):
        return 0
    reclaimed, text = prune_volumes(ctx, filters)
    if text:
        ctx.out(text)
    ctx.out(reclaimed_line(reclaimed))
    return 0
