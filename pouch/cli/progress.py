"""The CLI's view of a pull/push JSON stream (Docker's ``pkg/jsonmessage``), pure.

The daemon streams one JSON object a line (``status``, ``id``, ``progress``...); the
CLI turns that stream into one line per layer id: redrawn in place on a terminal
(:class:`ProgressBoard` keeps the lines and says which to rewrite), plain lines
otherwise (:class:`PlainLog`: a line only when a layer's status changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
