"""Image verbs: images (image ls), image inspect, tag, rmi, load, import."""

from __future__ import annotations

import os
import sys
import time

from pouch.cli import jsonwire as json
from pouch.cli.client import CLIError, quote_name
from pouch.cli.containers import inspect_verb, print_templated
from pouch.cli.flags import LIST, STR, F
from pouch.cli.format import human_size, images_table, record, short_id, since, split_repo_tag
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from pouch.cli.main import Context


IMAGES_FLAGS = [
    F("-a", "--all", help="Show all images (default hides intermediate images)"),
    F("--digests", help="Show digests"),
    F("-f", "--filter", kind=LIST, help="Filter output based on conditions provided"),
    F("--format", kind=STR, help="Pretty-print images using a Go template"),
    F("--no-trunc", help="Don't truncate output"),
    F("-q", "--quiet", help="Only show image IDs"),
]


def cmd_images(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] [REPOSITORY[:TAG]]", "List images", IMAGES_FLAGS, argv, max_args=1)
    filters = parse_filters(opts["filter"])
    if args:
        filters.setdefault("reference", []).append(args[0])
    params = {"all": True if opts["all"] else None, "filters": filters or None}
    images = ctx.client.get("/images/json", params) or []
    images.sort(key=lambda i: i.get("Created", 0), reverse=True)
    trunc = not opts["no_trunc"]
    if opts["quiet"]:
        seen = []
        for img in images:
            ident = short_id(img.get("Id", ""), trunc) if trunc else img.get("Id", "")
            if ident not in seen:
                seen.append(ident)
                ctx.out(ident)
        return 0
    if opts["format"] and opts["format"] != "table":
        return print_templated(ctx, opts["format"], [row for img in images for row in _image_rows(img, trunc)],
                               IMAGE_HEADERS)
    ctx.stdout.write(images_table(images, time.time(), trunc=trunc))
    return 0


def _image_rows(img: dict[str, Any], trunc: bool) -> list[Any]:
    """The template fields of an image, one row per repository:tag like the table (and docker)."""
    tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
    pairs = [split_repo_tag(t) for t in tags] or [("<none>", "<none>")]
    return [_image_fields(img, trunc, repo, tag) for repo, tag in pairs]


IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}


def _image_fields(img: dict[str, Any], trunc: bool, repo: str, tag: str) -> Any:
    """docker's ``images --format`` context (``*formatter.imageContext``)."""
    now = time.time()
    size, shared = img.get("Size", 0), img.get("SharedSize", -1)
    containers = img.get("Containers", -1)
    return record("*formatter.imageContext", {
        "ID": short_id(img.get("Id", ""), trunc) if trunc else img.get("Id", ""),
        "Repository": repo, "Tag": tag,
        "Digest": ((img.get("RepoDigests") or ["@<none>"])[0]).split("@")[-1],
        "CreatedSince": since(img.get("Created", now), now),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(img.get("Created", now))),
        "Size": human_size(size),
        "Containers": "N/A" if containers == -1 else str(containers),
        "VirtualSize": human_size(img.get("VirtualSize", size), 4),
        "SharedSize": "N/A" if shared == -1 else human_size(shared),
        "UniqueSize": "N/A" if size == -1 or shared == -1 else human_size(size - shared),
    })


def cmd_image_inspect(ctx: Context, argv: list[str]) -> int:
    return inspect_verb(ctx, argv, "image", "[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images")


# ---------------------------------------------------------------------------

def cmd_tag(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
                        [], argv, min_args=2, max_args=2)
    source, target = args
    if "@" in target:
        raise CLIError("refusing to create a tag with a digest reference")
    repo, tag = split_repo_tag(target)
    ctx.client.request("POST", f"/images/{quote_name(source)}/tag",
                       params={"repo": repo, "tag": "latest" if tag == "<none>" else tag}).read()
    return 0


def cmd_rmi(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images",
                           [F("-f", "--force", help="Force removal of the image"),
                            F("--no-prune", help="Do not delete untagged parents")], argv, min_args=1)
    params = {"force": True if opts["force"] else None, "noprune": True if opts["no_prune"] else None}
    failed = False
    for name in args:
        try:
            items = ctx.client.delete(f"/images/{quote_name(name)}", params) or []
        except CLIError as e:
            ctx.err(e.message)
            failed = True
            continue
        for item in items:
            for key in ("Untagged", "Deleted"):
                if item.get(key):
                    ctx.out(f"{key}: {item[key]}")
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# load / import: tarball bodies streamed with chunked encoding, JSON-lines answers

def print_json_messages(ctx: Context, lines: Iterable[Any]) -> None:
    """Show a JSON-message stream (docker ``jsonmessage``): ``stream`` text as is,
    ``status`` lines (with id/progress), and raise on ``error``."""
    for msg in lines:
        if not isinstance(msg, dict):
            continue
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise CLIError(msg.get("error") or detail.get("message") or "unknown error")
        if msg.get("stream"):
            ctx.stdout.write(msg["stream"])
            ctx.stdout.flush()
        elif msg.get("status"):
            text = msg["status"]
            if msg.get("id"):
                text = f"{msg['id']}: {text}"
            if msg.get("progress"):
                text = f"{text} {msg['progress']}"
            ctx.out(text)


def json_lines(resp: Any) -> Iterable[Any]:
    for line in resp.iter_lines():
        try:
            yield json.loads(line)
        except ValueError:
            yield {"stream": line.decode("utf-8", "replace") + "\n"}


def _open_source(path: str | None, what: str) -> Any:
    if path in (None, "-"):
        if os.isatty(0):
            raise CLIError(f"requested {what} from stdin, but stdin is empty")
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as e:
        raise CLIError(f"open {path}: {e.strerror or e}") from None


def cmd_load(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Load an image from a tar archive or STDIN",
                        [F("-i", "--input", kind=STR, help="Read from tar archive file, instead of STDIN"),
                         F("-q", "--quiet", help="Suppress the load output")], argv, max_args=0)
    source = _open_source(opts["input"], "image load")
    try:
        resp = ctx.client.request("POST", "/images/load", params={"quiet": True if opts["quiet"] else None},
                                  body=source, headers={"Content-Type": "application/x-tar"})
        if "json" in resp.headers.get("content-type", "json"):
            print_json_messages(ctx, json_lines(resp))
        else:
            ctx.stdout.write(resp.read().decode("utf-8", "replace"))
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    return 0


IMPORT_FLAGS = [
    F("-c", "--change", kind=LIST, help="Apply Dockerfile instruction to the created image"),
    F("-m", "--message", kind=STR, help="Set commit message for imported image"),
    F("--platform", kind=STR, help="Set platform if server is multi-platform capable"),
]


def import_params(source: str, reference: str | None, changes: list[str], message: str | None,
                  platform: str | None = None) -> dict[str, Any]:
    """``POST /images/create`` query for ``import`` (pure)."""
    repo, tag = split_repo_tag(reference) if reference else ("", "<none>")
    if reference and "@" in reference:
        raise CLIError(f"invalid reference format: {reference} (digests are not allowed)")
    is_url = source.startswith(("http://", "https://"))
    return {
        "fromSrc": source if is_url else "-",
        "repo": repo or None,
        "tag": None if tag == "<none>" else tag,
        "message": message or None,
        "changes": changes or None,
        "platform": platform or None,
    }


def cmd_import(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                           "Import the contents from a tarball to create a filesystem image",
                           IMPORT_FLAGS, argv, min_args=1, max_args=2)
    source = args[0]
    params = import_params(source, args[1] if len(args) > 1 else None, opts["change"], opts["message"], opts["platform"])
    body = None if params["fromSrc"] != "-" else _open_source(None if source == "-" else source, "import")
    try:
        resp = ctx.client.request("POST", "/images/create", params=params, body=body,
                                  headers={"Content-Type": "application/x-tar"} if body is not None else None)
        print_json_messages(ctx, json_lines(resp))
    finally:
        if body is not None and body is not sys.stdin.buffer:
            body.close()
    return 0
