"""``pouch volume create|ls|inspect|rm|prune`` and the ``--mount`` flag's parser (docker's
``opts.MountOpt``: a CSV of key=value fields -> one ``HostConfig.Mounts`` entry)."""

from __future__ import annotations

from pouch.cli.client import CLIError, quote_name
from pouch.cli.containers import for_each, inspect_and_print
from pouch.cli.flags import LIST, STR, F
from pouch.cli.objects import filters_query, key_values, print_template_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


# --- --mount -----------------------------------------------------------------------------------

def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def _key_value(text: str, key: str) -> tuple[str, str]:
    k, _, v = text.partition("=")
    if not k:
        raise ValueError(f"invalid value for {key}: {text}")
    return k, v


def parse_mount_flag(value: str, cwd: str = "") -> dict[str, Any]:
    """``type=volume,source=v,target=/data,readonly,volume-opt=type=tmpfs`` -> an API Mount."""
    import csv
    import os

    try:
        fields = next(csv.reader([value]), [])
    except csv.Error as e:
        raise _mount_error(value, str(e)) from None
    mount: dict[str, Any] = {"Type": "volume"}
    volume: dict[str, Any] = {}
    bind: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    try:
        for field in fields:
            key, eq, val = field.partition("=")
            key = key.lower()
            if not eq:
                if key in ("readonly", "ro"):
                    mount["ReadOnly"] = True
                elif key == "volume-nocopy":
                    volume["NoCopy"] = True
                elif key == "bind-nonrecursive":
                    bind["NonRecursive"] = True
                else:
                    raise ValueError(f"invalid field '{field}' must be a key=value pair")
            elif key == "type":
                mount["Type"] = val.lower()
            elif key in ("source", "src"):
                mount["Source"] = os.path.abspath(os.path.join(cwd or os.getcwd(), val)) if val == "." or val.startswith("./") else val
            elif key in ("target", "dst", "destination"):
                mount["Target"] = val
            elif key in ("readonly", "ro"):
                mount["ReadOnly"] = _parse_bool(key, val)
            elif key == "consistency":
                mount["Consistency"] = val.lower()
            elif key == "bind-propagation":
                bind["Propagation"] = val.lower()
            elif key == "bind-nonrecursive":
                bind["NonRecursive"] = _parse_bool(key, val)
            elif key == "volume-driver":
                volume.setdefault("DriverConfig", {})["Name"] = val
            elif key == "volume-label":
                k, v = _key_value(val, key)
                volume.setdefault("Labels", {})[k] = v
            elif key == "volume-opt":
                k, v = _key_value(val, key)
                volume.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
            elif key == "volume-nocopy":
                volume["NoCopy"] = _parse_bool(key, val)
            elif key == "tmpfs-size":
                from pouch.cli.options import OptionError, parse_ram

                try:
                    tmpfs["SizeBytes"] = parse_ram(val)
                except OptionError:
                    raise ValueError(f"invalid value for {key}: {val}") from None
            elif key == "tmpfs-mode":
                try:
                    tmpfs["Mode"] = int(val, 8)
                except ValueError:
                    raise ValueError(f"invalid value for {key}: {val}") from None
            else:
                raise ValueError(f"unexpected key '{key}' in '{field}'")
        kind = mount["Type"]
        if not mount.get("Target"):
            raise ValueError("target is required")
        for options, prefix, owner in ((volume, "volume", "volume"), (bind, "bind", "bind"), (tmpfs, "tmpfs", "tmpfs")):
            if options and kind != owner:
                raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    except ValueError as e:
        raise _mount_error(value, str(e)) from None
    if volume:
        mount["VolumeOptions"] = volume
    if bind:
        mount["BindOptions"] = bind
    if tmpfs:
        mount["TmpfsOptions"] = tmpfs
    return mount


def _mount_error(value: str, why: str) -> Exception:
    from pouch.cli.options import OptionError

    return OptionError(f'invalid argument "{value}" for "--mount" flag: {why}')


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


def cmd_volume_ls(ctx: Context, argv: list[str]) -> int:
    from pouch.cli.format import table

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
        print_template_lines(ctx, opts["format"], volumes)
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
    from pouch.cli.options import parse_filters
    from pouch.cli.prune import confirm, prune_volumes, reclaimed_line

    opts, _ = ctx.parse("[OPTIONS]", "Remove all unused local volumes",
                        [F("-a", "--all", help="Remove all unused volumes, not just anonymous ones"),
                         F("--filter", kind=LIST, help="Provide filter values (e.g. 'label=<label>')"),
                         F("-f", "--force", help="Do not prompt for confirmation")], argv, max_args=0)
    filters = parse_filters(opts["filter"] or [])
    if not opts["force"] and not confirm(ctx, "WARNING! This will remove all local volumes not used by at least one container."):
        return 0
    reclaimed, text = prune_volumes(ctx, filters)
    if text:
        ctx.out(text)
    ctx.out(reclaimed_line(reclaimed))
    return 0
