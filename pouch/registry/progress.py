"""Progress as Docker shows it (``pkg/jsonmessage``), pure.

The API streams one JSON object a line::

    {"status":"Downloading","progressDetail":{"current":N,"total":M},"progress":"[==>   ] 1MB/3MB","id":"<short digest>"}

and the CLI turns that stream into one line per layer id: redrawn in place on
a terminal (:class:`ProgressBoard` keeps the lines and says which to rewrite),
plain lines otherwise (a line only when a layer's status changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

BAR_WIDTH = 50


def human_size_decimal(size: float) -> str:
    """go-units ``HumanSize``: decimal units, four significant digits (``2.052MB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{units[i]}"


def message(status: str, id: str = "", current: int | None = None, total: int | None = None) -> dict:
    msg: dict = {"status": status}
    if current is not None:
        msg["progressDetail"] = {"current": current, **({"total": total} if total else {})}
        msg["progress"] = progress_bar(current, total or 0)
    elif id:
        msg["progressDetail"] = {}
    if id:
        msg["id"] = id
    return msg


def error_message(text: str) -> dict:
    return {"errorDetail": {"message": text}, "error": text}


def encode(msg: dict) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\r\n"


def progress_bar(current: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[=====>      ]  1.2MB/3.4MB`` (``jsonmessage.JSONProgress.String``)."""
    if total <= 0:
        return f"{human_size_decimal(current):>8}"
    done = min(width, int(width * current / total))
    bar = "=" * done + (">" if done < width else "") + " " * max(0, width - done - 1)
    if done == width:
        bar = "=" * (width - 1) + ">"
    return f"[{bar}] {human_size_decimal(current):>8}/{human_size_decimal(total)}"


def render_line(msg: dict) -> str:
    """The text of one message: ``id: status progress``."""
    text = msg.get("status", "")
    if msg.get("id"):
        text = f"{msg['id']}: {text}"
    if msg.get("progress"):
        text = f"{text} {msg['progress']}"
    return text


@dataclass
class ProgressBoard:
    """Terminal mode: one line per id, in order of appearance; ``update`` returns the
    escape-coded text that rewrites that line in place (cursor up N, clear, write, down)."""

    ids: list[str] = field(default_factory=list)

    def update(self, msg: dict) -> str:
        line = render_line(msg)
        ident = msg.get("id")
        if not ident:
            return line + "\n"
        if ident not in self.ids:
            self.ids.append(ident)
            return line + "\n"
        up = len(self.ids) - self.ids.index(ident)
        return f"\x1b[{up}A\r\x1b[2K{line}\r\x1b[{up}B"


@dataclass
class PlainLog:
    """Not a terminal: a line when a layer's status changes, never the repeated progress ticks."""

    last: dict[str, str] = field(default_factory=dict)

    def update(self, msg: dict) -> str:
        ident = msg.get("id")
        status = msg.get("status", "")
        if ident:
            if self.last.get(ident) == status:
                return ""
            self.last[ident] = status
            return f"{ident}: {status}\n"
        return render_line(msg) + "\n"
