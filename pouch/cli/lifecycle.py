"""Local image life cycle verbs: commit, diff, history, save, export, image prune."""

from __future__ import annotations

import os
import sys
import time

from pouch.cli.client import CLIError, quote_name
from pouch.cli.flags import LIST, STR, F
from pouch.cli.format import TemplateError, ellipsis, human_size, record, render_rows, short_id, since, split_repo_tag, table
from pouch.cli.prune import confirm, prune_images, reclaimed_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


COMMIT_FLAGS = [
    F("-a", "--author", kind=STR, help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
    F("-c", "--change", kind=LIST, help="Apply Dockerfile instruction to the created image"),
    F("-m", "--message", kind=STR, help="Commit message"),
    F("-p", "--pause", default=True, help="Pause container during commit (default true)"),
]


def commit_params(container: str, reference: str | None, opts: dict[str, Any]) -> dict[str, Any]:
    """``POST /commit`` query of ``pouch commit`` (pure)."""
    repo, tag = split_repo_tag(reference) if reference else ("", "<none>")
    if reference and "@" in reference:
        raise CLIError(f"invalid reference format: {reference} (digests are not allowed)")
    return {
        "container": container,
        "repo": repo or None,
        "tag": None if tag == "<none>" else tag,
        "comment": opts.get("message") or None,
        "author": opts.get("author") or None,
        "changes": list(opts.get("change") or []) or None,
        "pause": None if opts.get("pause", True) else "0",
    }


def cmd_commit(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes",
                           COMMIT_FLAGS, argv, min_args=1, max_args=2)
    params = commit_params(args[0], args[1] if len(args) > 1 else None, opts)
    result = ctx.client.post("/commit", params, body={}) or {}
    ctx.out(result.get("Id", ""))
    return 0


_KINDS = {0: "C", 1: "A", 2: "D"}


def cmd_diff(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER", "Inspect changes to files or directories on a container's filesystem",
                        [], argv, min_args=1, max_args=1)
    for change in ctx.client.get(f"/containers/{quote_name(args[0])}/changes") or []:
        ctx.out(f"{_KINDS.get(change.get('Kind'), '?')} {change.get('Path', '')}")
    return 0


def history_rows(items: list[dict[str, Any]], now: float, *, human: bool, trunc: bool) -> list[list[str]]:
    """Rows of ``pouch history`` (pure)."""
    rows = []
    for item in items:
        ident = item.get("Id", "")
        if ident != "<missing>" and trunc:
            ident = short_id(ident)
        created = item.get("Created", 0)
        created_text = since(created, now) if human else time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(created))
        created_by = item.get("CreatedBy", "")
        size = item.get("Size", 0)
        rows.append([ident, created_text, ellipsis(created_by, 45) if trunc else created_by,
                     human_size(size) if human else str(size), item.get("Comment", "")])
    return rows


def cmd_history(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] IMAGE", "Show the history of an image",
                           [F("-H", "--human", default=True, help="Print sizes and dates in human readable format"),
                            F("--no-trunc", help="Don't truncate output"),
                            F("-q", "--quiet", help="Only show image IDs"),
                            F("--format", kind=STR, help="Format output using a custom template")], argv, min_args=1, max_args=1)
    items = ctx.client.get(f"/images/{quote_name(args[0])}/history") or []
    rows = history_rows(items, time.time(), human=opts["human"], trunc=not opts["no_trunc"])
    if opts["quiet"]:
        for row in rows:
            ctx.out(row[0])
        return 0
    if opts["format"] and opts["format"] != "table":
        _print_history(ctx, opts["format"], items, rows)
        return 0
    ctx.stdout.write(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows))
    return 0


HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}


def _print_history(ctx: Context, fmt: str, items: list[dict[str, Any]], rows: list[list[str]]) -> None:
    """``history --format`` (docker's ``*image.historyContext``)."""
    records = [record("*image.historyContext", {
        "ID": row[0], "CreatedSince": row[1],
        "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(item.get("Created", 0))),
        "CreatedBy": row[2], "Size": row[3], "Comment": row[4]}) for item, row in zip(items, rows)]
    try:
        ctx.stdout.write(render_rows(fmt, records, HISTORY_HEADERS))
    except TemplateError as e:
        raise CLIError(f"template parsing error: {e}") from None


def _download(ctx: Context, path: str, params: dict[str, Any] | None, output: str | None, what: str) -> int:
    if not output and os.isatty(sys.stdout.fileno()):
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    resp = ctx.client.request("GET", path, params=params)
    if not output:
        sys.stdout.flush()
        out = sys.stdout.buffer
        for chunk in resp.iter_chunks():
            out.write(chunk)
        out.flush()
        return 0
    tmp = f"{output}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            for chunk in resp.iter_chunks():
                f.write(chunk)
        os.replace(tmp, output)
    except OSError as e:
        raise CLIError(f"failed to write {what} to {output}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def cmd_save(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] IMAGE [IMAGE...]",
                           "Save one or more images to a tar archive (streamed to STDOUT by default)",
                           [F("-o", "--output", kind=STR, help="Write to a file, instead of STDOUT"),
                            F("--format", kind=STR, default="docker",
                              help="docker (docker-archive, the default) or oci (OCI image layout)")],
                           argv, min_args=1)
    if opts["format"] not in ("docker", "oci"):
        raise CLIError(f"unknown format {opts['format']!r}: use docker or oci")
    params = {"names": list(args), "format": None if opts["format"] == "docker" else opts["format"]}
    return _download(ctx, "/images/get", params, opts["output"], "the image")


def cmd_export(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
                           [F("-o", "--output", kind=STR, help="Write to a file, instead of STDOUT")],
                           argv, min_args=1, max_args=1)
    return _download(ctx, f"/containers/{quote_name(args[0])}/export", None, opts["output"], "the export")


def cmd_image_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Remove unused images",
                        [F("-a", "--all", help="Remove all unused images, not just dangling ones"),
                         F("-f", "--force", help="Do not prompt for confirmation")], argv, max_args=0)
    if not opts["force"]:
        what = "all images without at least one container associated to them" if opts["all"] else "all dangling images"
        if not confirm(ctx, f"WARNING! This will remove {what}."):
            return 0
    reclaimed, text = prune_images(ctx, opts["all"], {})
    if text:
        ctx.out(text)
    ctx.out(reclaimed_line(reclaimed))
    return 0
