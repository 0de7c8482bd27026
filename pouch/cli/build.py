"""``pouch build``: send the context directory as a tar to ``POST /build`` and show the steps.

Like the docker CLI, the context is filtered by its ``.dockerignore`` here, before
it is sent (the Dockerfile and ``.dockerignore`` always go); a Dockerfile outside
the context (``-f``) is added to the tar under a name of its own.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import tempfile

from pouch.build.ignore import is_excluded, parse_dockerignore
from pouch.cli.client import CLIError
from pouch.cli.flags import BOOL, LIST, STR, F
from pouch.cli.images import json_lines, print_json_messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, BinaryIO, TextIO

    from pouch.cli.main import Context

BUILD_FLAGS = [
    F("-t", "--tag", kind=LIST, help="Name and optionally a tag in the 'name:tag' format"),
    F("-f", "--file", kind=STR, help="Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
    F("--build-arg", kind=LIST, help="Set build-time variables"),
    F("--target", kind=STR, help="Set the target build stage to build"),
    F("--no-cache", kind=BOOL, help="Do not use cache when building the image"),
    F("--label", kind=LIST, help="Set metadata for an image"),
    F("-q", "--quiet", kind=BOOL, help="Suppress the build output and print image ID on success"),
    F("--rm", default=True, help="Remove intermediate containers after a successful build (default true)"),
    F("--force-rm", kind=BOOL, help="Always remove intermediate containers"),
]


def build_args(values: list[str], environ: dict[str, str]) -> dict[str, str]:
    """``--build-arg K=V``; a bare ``K`` takes the value of the environment variable (pure)."""
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            if key not in environ:
                continue
            val = environ[key]
        out[key] = val
    return out


def labels(values: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (value.partition("=") for value in values)}


def build_params(opts: dict[str, Any], dockerfile: str, environ: dict[str, str]) -> dict[str, Any]:
    """The ``POST /build`` query (pure)."""
    return {
        "t": list(opts.get("tag") or []) or None,
        "dockerfile": dockerfile,
        "buildargs": build_args(opts.get("build_arg") or [], environ) or None,
        "target": opts.get("target") or None,
        "nocache": "1" if opts.get("no_cache") else None,
        "labels": labels(opts.get("label") or []) or None,
        "q": "1" if opts.get("quiet") else None,
        "rm": None if opts.get("rm", True) else "0",
        "forcerm": "1" if opts.get("force_rm") else None,
    }


def quiet_result(lines: Iterable[Any], err: TextIO) -> str:
    """``-q``: the image id; on a failure the output the daemon held back goes to stderr
    (as docker does), then the error is raised."""
    image_id = ""
    held: list[str] = []
    for msg in lines:
        if not isinstance(msg, dict):
            continue
        if msg.get("error") or msg.get("errorDetail"):
            err.write("".join(held))
            err.flush()
            raise CLIError(msg.get("error") or (msg.get("errorDetail") or {}).get("message") or "unknown error")
        if isinstance(msg.get("aux"), dict):
            image_id = msg["aux"].get("ID", image_id)
        elif msg.get("stream"):
            held.append(msg["stream"])
    return image_id


_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def is_archive(head: bytes) -> bool:
    """Whether the first 512 bytes of stdin are a (compressed) tar rather than a Dockerfile (pure)."""
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def stdin_context(stdin: BinaryIO, dockerfile: str | None) -> tuple[BinaryIO, str]:
    """``pouch build -``: stdin is the context as a tar (plain or compressed), or a Dockerfile
    alone (an empty context), as with ``docker build - < Dockerfile``."""
    out = tempfile.TemporaryFile()
    head = stdin.read(512)
    if is_archive(head):
        out.write(head)
        while chunk := stdin.read(1 << 20):
            out.write(chunk)
        out.seek(0)
        return out, dockerfile or "Dockerfile"
    text = head + stdin.read()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(text), 0o644
        tf.addfile(info, io.BytesIO(text))
    out.seek(0)
    return out, "Dockerfile"


def context_tar(context: str, dockerfile: str | None) -> tuple[BinaryIO, str]:
    """A temporary file with the context as a tar, and the Dockerfile's name in it."""
    ignore_path = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.isfile(ignore_path):
        with open(ignore_path) as f:
            patterns = parse_dockerignore(f.read())
    name = "Dockerfile"
    extra = None
    if dockerfile == "-":
        stdin_copy = tempfile.NamedTemporaryFile(prefix="pouch-dockerfile-")
        stdin_copy.write(sys.stdin.buffer.read())
        stdin_copy.flush()
        extra, name = stdin_copy.name, ".dockerfile.pouch"
    elif dockerfile:
        path = os.path.abspath(dockerfile)
        rel = os.path.relpath(path, os.path.abspath(context))
        if rel.startswith(".." + os.sep) or rel == "..":
            extra, name = path, ".dockerfile.pouch"
        else:
            name = rel.replace(os.sep, "/")
    keep = {name, ".dockerignore"}
    out = tempfile.TemporaryFile()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(context):
            dirnames.sort()
            for entry in sorted(dirnames + filenames):
                full = os.path.join(dirpath, entry)
                rel = os.path.relpath(full, context).replace(os.sep, "/")
                if patterns and rel not in keep and is_excluded(rel, patterns):
                    continue
                info = tf.gettarinfo(full, rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with open(full, "rb") as f:
                        tf.addfile(info, f)
                elif info.isdir() or info.issym() or info.islnk():
                    tf.addfile(info)
        if extra:
            info = tf.gettarinfo(extra, name)
            info.uid = info.gid = 0
            with open(extra, "rb") as f:
                tf.addfile(info, f)
    out.seek(0)
    return out, name


def cmd_build(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] PATH", "Build an image from a Dockerfile", BUILD_FLAGS, argv,
                           min_args=1, max_args=1)
    context = args[0]
    if context.startswith(("http://", "https://", "git@", "git://", "github.com/")):
        raise CLIError("building from a remote (URL or git) context is not supported: clone or download it "
                       "and build the local directory")
    if context == "-":
        if opts.get("file") == "-":
            raise CLIError("invalid argument: can't use stdin for both build context and dockerfile")
        body, dockerfile = stdin_context(sys.stdin.buffer, opts.get("file"))
    elif not os.path.isdir(context):
        raise CLIError(f"unable to prepare context: path {context!r} not found")
    else:
        body, dockerfile = context_tar(context, opts.get("file"))
    try:
        resp = ctx.client.request("POST", "/build", params=build_params(opts, dockerfile, dict(os.environ)),
                                  body=body, headers={"Content-Type": "application/x-tar"})
        lines = json_lines(resp)
        if opts.get("quiet"):
            ctx.out(quiet_result(lines, sys.stderr))
        else:
            print_json_messages(ctx, lines)
    finally:
        body.close()
    sys.stdout.flush()
    return 0
