"""Housekeeping verbs: ``container prune``, ``system df [-v]``, ``system prune [-a] [--volumes]``.

``system prune`` calls the prunes one after the other as the docker CLI does (containers,
networks, volumes with ``--volumes``, images, build cache) and adds up what they reclaimed;
``network prune``, ``volume prune`` and ``image prune`` use the same steps (``prune_*``),
prompt (``confirm``) and total (``reclaimed_line``).
"""

from __future__ import annotations

import sys
import time

from pouch.cli import jsonwire as json
from pouch.cli.client import APIError, CLIError
from pouch.cli.flags import LIST, F
from pouch.cli.format import TemplateError, ellipsis, human_size, record, render_rows, short_id, since, split_repo_tag, table
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


def _size(size: float) -> str:
    return human_size(size, 4)  # go-units HumanSize


def confirm(ctx: Context, warning: str) -> bool:
    """docker's prune prompt: the warning, then ``[y/N]``; True for y or yes."""
    ctx.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def reclaimed_line(size: int) -> str:
    return f"Total reclaimed space: {_size(size)}"  # go-units HumanSize, as the docker CLI


def prune_containers(ctx: Context, filters: dict[str, list[str]]) -> tuple[int, str]:
    result = ctx.client.post("/containers/prune", {"filters": json.dumps(filters)} if filters else None) or {}
    deleted = result.get("ContainersDeleted") or []
    text = "Deleted Containers:\n" + "".join(f"{i}\n" for i in deleted) if deleted else ""
    return int(result.get("SpaceReclaimed") or 0), text


def prune_networks(ctx: Context, filters: dict[str, list[str]]) -> tuple[int, str]:
    try:
        result = ctx.client.post("/networks/prune", {"filters": json.dumps(filters)} if filters else None) or {}
    except APIError as err:
        if err.status == 404:  # no network service on this daemon
            return 0, ""
        raise
    deleted = result.get("NetworksDeleted") or []
    return 0, ("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted) if deleted else "")


def prune_volumes(ctx: Context, filters: dict[str, list[str]]) -> tuple[int, str]:
    result = ctx.client.post("/volumes/prune", {"filters": json.dumps(filters)} if filters else None) or {}
    deleted = result.get("VolumesDeleted") or []
    return int(result.get("SpaceReclaimed") or 0), ("Deleted Volumes:\n" + "".join(f"{n}\n" for n in deleted)
                                                   if deleted else "")


def prune_images(ctx: Context, all_: bool, filters: dict[str, list[str]]) -> tuple[int, str]:
    query = {"dangling": ["false" if all_ else "true"]}
    query.update({k: v for k, v in filters.items() if k != "dangling"})
    result = ctx.client.post("/images/prune", {"filters": json.dumps(query)}) or {}
    deleted = result.get("ImagesDeleted") or []
    lines = []
    for item in deleted:
        for key in ("Untagged", "Deleted"):
            if item.get(key):
                lines.append(f"{key.lower()}: {item[key]}\n")
    return int(result.get("SpaceReclaimed") or 0), ("Deleted Images:\n" + "".join(lines) if lines else "")


def prune_build_cache(ctx: Context, all_: bool) -> tuple[int, str]:
    result = ctx.client.post("/build/prune", {"all": "1" if all_ else None}) or {}
    deleted = result.get("CachesDeleted") or []
    return (int(result.get("SpaceReclaimed") or 0),
            "Deleted build cache objects:\n" + "".join(f"{k}\n" for k in deleted) if deleted else "")


def cmd_container_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Remove all stopped containers",
                        [F("--filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
                         F("-f", "--force", help="Do not prompt for confirmation")], argv, max_args=0)
    filters = parse_filters(opts["filter"] or [])  # label!=x: the key label!
    if not opts["force"] and not confirm(ctx, "WARNING! This will remove all stopped containers."):
        return 0
    reclaimed, text = prune_containers(ctx, filters)
    if text:
        ctx.out(text)
    ctx.out(reclaimed_line(reclaimed))
    return 0


def cmd_system_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Remove unused data",
                        [F("-a", "--all", help="Remove all unused images not just dangling ones"),
                         F("--filter", kind=LIST, help="Provide filter values (e.g. 'label=<key>=<value>')"),
                         F("-f", "--force", help="Do not prompt for confirmation"),
                         F("--volumes", help="Prune anonymous volumes")], argv, max_args=0)
    filters = parse_filters(opts["filter"] or [])  # label!=x: the key label!
    if not opts["force"]:
        items = ["all stopped containers", "all networks not used by at least one container"]
        if opts["volumes"]:
            items.append("all anonymous volumes not used by at least one container")
        if opts["all"]:
            items += ["all images without at least one container associated to them", "all build cache"]
        else:
            items += ["all dangling images", "unused build cache"]
        warning = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
        if not confirm(ctx, warning):
            return 0
    steps: list[Any] = [lambda: prune_containers(ctx, filters), lambda: prune_networks(ctx, filters)]
    if opts["volumes"]:
        steps.append(lambda: prune_volumes(ctx, {k: v for k, v in filters.items() if k != "until"}))
    steps += [lambda: prune_images(ctx, opts["all"], filters), lambda: prune_build_cache(ctx, opts["all"])]
    total = 0
    for step in steps:
        reclaimed, text = step()
        total += reclaimed
        if text:
            ctx.out(text)
    ctx.out(reclaimed_line(total))
    return 0


# --- system df ------------------------------------------------------------------------------

def _percent(part: int, whole: int) -> str:
    return f"{_size(part)} ({part * 100 // whole}%)" if whole > 0 else _size(part)


def df_summary(du: dict) -> list[list[str]]:
    """The rows of ``docker system df`` (docker/cli's ``formatter/disk_usage.go``)."""
    images = du.get("Images") or []
    layers = int(du.get("LayersSize") or 0)
    used = sum(i.get("Size", 0) - i.get("SharedSize", 0) for i in images
               if i.get("Containers", 0) > 0 and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    containers = du.get("Containers") or []
    active = [c for c in containers if c.get("State") in ("running", "paused", "restarting")]
    rw_total = sum(c.get("SizeRw", 0) for c in containers)
    rw_idle = sum(c.get("SizeRw", 0) for c in containers if c not in active)
    volumes = du.get("Volumes") or []
    vol_sizes = [(v.get("UsageData") or {}).get("Size", -1) for v in volumes]
    vol_refs = [(v.get("UsageData") or {}).get("RefCount", 0) for v in volumes]
    vol_total = sum(s for s in vol_sizes if s > 0)
    vol_idle = sum(s for s, r in zip(vol_sizes, vol_refs) if s > 0 and r == 0)
    cache = du.get("BuildCache") or []
    return [
        ["Images", str(len(images)), str(sum(1 for i in images if i.get("Containers", 0) > 0)),
         _size(layers), _percent(max(layers - used, 0), layers)],
        ["Containers", str(len(containers)), str(len(active)), _size(rw_total), _percent(rw_idle, rw_total)],
        ["Local Volumes", str(len(volumes)), str(sum(1 for r in vol_refs if r > 0)), _size(vol_total),
         _percent(vol_idle, vol_total)],
        ["Build Cache", str(len(cache)), str(sum(1 for b in cache if b.get("InUse"))),
         _size(sum(b.get("Size", 0) for b in cache if not b.get("Shared"))),
         _size(sum(b.get("Size", 0) for b in cache if not b.get("Shared") and not b.get("InUse")))],
    ]


def _verbose(ctx: Context, du: dict) -> None:
    now = time.time()
    rows = []
    for image in du.get("Images") or []:
        tags = image.get("RepoTags") or ["<none>:<none>"]
        for tag in tags:
            repo, version = split_repo_tag(tag)
            size, shared = image.get("Size", 0), image.get("SharedSize", 0)
            rows.append([repo, version, short_id(image.get("Id", "")), since(image.get("Created", 0), now),
                         human_size(size, 3), _size(shared), _size(size - shared), str(image.get("Containers", 0))])
    ctx.out("Images space usage:\n")
    ctx.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
                            "CONTAINERS"], rows))
    rows = []
    for c in du.get("Containers") or []:
        names = ",".join(n.lstrip("/") for n in c.get("Names") or [])
        volumes = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        rows.append([short_id(c.get("Id", "")), c.get("Image", ""), ellipsis(json.dumps(c.get("Command", "")), 20),
                     str(volumes), _size(c.get("SizeRw", 0)), since(c.get("Created", 0), now), c.get("Status", ""),
                     names])
    ctx.out("\nContainers space usage:\n")
    ctx.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS",
                            "NAMES"], rows))
    rows = [[v.get("Name", ""), str((v.get("UsageData") or {}).get("RefCount", 0)),
             _size(max((v.get("UsageData") or {}).get("Size", 0), 0))] for v in du.get("Volumes") or []]
    ctx.out("\nLocal Volumes space usage:\n")
    ctx.stdout.write(table(["VOLUME NAME", "LINKS", "SIZE"], rows))
    cache = du.get("BuildCache") or []
    ctx.out(f"\nBuild cache usage: {_size(sum(b.get('Size', 0) for b in cache if not b.get('Shared')))}\n")
    rows = [[b.get("ID", "")[:12], b.get("Type", ""), _size(b.get("Size", 0)), "", "", str(b.get("UsageCount", 0)),
             "true" if b.get("Shared") else "false"] for b in cache]
    ctx.stdout.write(table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], rows))


def cmd_system_df(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Show pouch disk usage",
                        [F("-v", "--verbose", help="Show detailed information on space usage"),
                         F("--format", kind="str", help="Pretty-print with a Go template")], argv, max_args=0)
    du = ctx.client.get("/system/df") or {}
    if opts["verbose"]:
        _verbose(ctx, du)
        return 0
    rows = df_summary(du)
    if opts["format"] and opts["format"] != "table":
        keys = ("Type", "TotalCount", "Active", "Size", "Reclaimable")
        kinds = ("Images", "Containers", "Volumes", "Builder")
        records = [record(f"*formatter.diskUsage{kind}Context", dict(zip(keys, row))) for kind, row in zip(kinds, rows)]
        headers = dict(zip(keys, ("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE")))
        try:
            ctx.stdout.write(render_rows(opts["format"], records, headers))
        except TemplateError as e:
            raise CLIError(f"template parsing error: {e}") from None
        return 0
    ctx.stdout.write(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows))
    return 0
