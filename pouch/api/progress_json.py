"""Docker's JSON progress messages (``pkg/jsonmessage``) from the engine's typed progress.

A pull or push streams one compact JSON object a line::

    {"status":"Downloading","progressDetail":{"current":N,"total":M},"progress":"[==>   ] 1MB/3MB","id":"<short digest>"}

ending, for a push, with ``{"progressDetail":{},"aux":{"Tag","Digest","Size"}}``; a build
(the legacy builder) streams ``{"stream": text}`` lines, the pulls of its base images,
and ``{"aux": {"ID": image id}}`` (with ``json.dumps``' default spacing, as pouchd always
sent it). A failure after the answer started ends the stream with ``{"errorDetail":
{"message": m}, "error": m}`` (the HTTP status is already 200). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pouch.build.progress import BuildOutput, BuildProgress, BuiltImage
from pouch.registry.progress import PushResult, RegistryProgress

BAR_WIDTH = 50


def human_size_decimal(size: float) -> str:
    """go-units ``HumanSize``: decimal units, four significant digits (``2.052MB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{units[i]}"


def progress_bar(current: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[=====>      ]  1.2MB/3.4MB`` (``jsonmessage.JSONProgress.String``)."""
    if total <= 0:
        return f"{human_size_decimal(current):>8}"
    done = min(width, int(width * current / total))
    bar = "=" * done + (">" if done < width else "") + " " * max(0, width - done - 1)
    if done == width:
        bar = "=" * (width - 1) + ">"
    return f"[{bar}] {human_size_decimal(current):>8}/{human_size_decimal(total)}"


def registry_progress_json(event: RegistryProgress) -> dict[str, Any]:
    """One pull/push message: ``status``, ``progressDetail``, ``progress``, ``id`` (in that order)."""
    if isinstance(event, PushResult):
        return {"progressDetail": {}, "aux": {"Tag": event.tag, "Digest": event.digest, "Size": event.size}}
    msg: dict[str, Any] = {"status": event.action}
    if event.current is not None:
        msg["progressDetail"] = {"current": event.current, **({"total": event.total} if event.total else {})}
        msg["progress"] = progress_bar(event.current, event.total)
    elif event.layer_id:
        msg["progressDetail"] = {}
    if event.layer_id:
        msg["id"] = event.layer_id
    return msg


def build_progress_json(event: BuildProgress) -> dict[str, Any]:
    """One message of the legacy builder's stream."""
    if isinstance(event, BuildOutput):
        return {"stream": event.text}
    if isinstance(event, BuiltImage):
        return {"aux": {"ID": event.image_id}}
    return registry_progress_json(event)


def error_json(message: str, code: int | None = None) -> dict[str, Any]:
    """The in-stream error (``code``: a RUN step's exit code, in a build's)."""
    return {"errorDetail": {"message": message, **({"code": code} if code is not None else {})}, "error": message}


def encode_registry(msg: dict[str, Any]) -> bytes:
    """A pull/push line: compact JSON, CRLF (moby's streamformatter)."""
    return json.dumps(msg, separators=(",", ":")).encode() + b"\r\n"


def encode_build(msg: dict[str, Any]) -> bytes:
    """A build line: JSON with the default spacing, CRLF."""
    return json.dumps(msg).encode() + b"\r\n"


def build_lines(events: Iterator[BuildProgress], quiet: bool) -> Iterator[bytes]:
    """The JSON lines of a build. ``q=1`` (Docker's SuppressOutput): the steps' output is
    held back and only the image id is sent at the end (``aux`` and ``{"stream": id}``); a
    failure sends what was held back, then the error, so the user still sees why."""
    if not quiet:
        for event in events:
            yield encode_build(build_progress_json(event))
        return
    held: list[BuildProgress] = []
    image_id = ""
    try:
        for event in events:
            if isinstance(event, BuiltImage) and event.image_id:
                image_id = event.image_id
                yield encode_build(build_progress_json(event))
            else:
                held.append(event)
    except BaseException:
        for event in held:
            yield encode_build(build_progress_json(event))
        raise
    yield encode_build({"stream": image_id + "\n"})
