"""Dockerfile parsing (https://docs.docker.com/reference/dockerfile/), pure.

Text in, :class:`Instruction` list out: parser directives (``# escape=``) at the
top, comments, line continuations with the escape character (a comment line
inside a continuation is dropped, as BuildKit does), ``--flag=value`` options
(``COPY --from=``, ``--chown=``), the JSON (exec) form, and heredocs in RUN, COPY
and ADD (``RUN <<EOF``, ``<<-EOF`` strips leading tabs, ``<<"EOF"`` is not expanded;
the body ends at a line that is the delimiter). Substitution of ``$VAR`` happens
later (:mod:`pouch.build.plan`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pouch.errors import InvalidArgument

KNOWN = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
})
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_]*)\s*=\s*(.+?)\s*$")
_FLAG_RE = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?$")
_HEREDOC_RE = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(frozen=True)
class Heredoc:
    name: str  # the delimiter: EOF, or the file name of COPY <<file.txt
    content: str  # the body, each line ending with a newline (tabs stripped for <<-)
    expand: bool = True  # False when the delimiter was quoted
    raw: str = ""  # the body as written (for the shell) followed by the delimiter line
    marker: str = ""  # "<<EOF", "<<-'EOF'" as it appears in the arguments


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: "RUN"
    args: str  # the text after the keyword and its flags, continuations joined
    flags: tuple[tuple[str, str], ...] = ()
    json_args: tuple[str, ...] | None = None  # the exec form, when args is a JSON array of strings
    line: int = 0
    original: str = ""  # "RUN --mount... echo hi" as written (continuations joined)
    heredocs: tuple[Heredoc, ...] = ()

    def flag(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.flags if k == name), default)


def parse_json_form(args: str) -> tuple[str, ...] | None:
    if not args.startswith("["):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the very top; returns them and the first line after."""
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _DIRECTIVE_RE.match(line.strip())
        if not match or match.group(1).lower() in found:
            return found, index
        found[match.group(1).lower()] = match.group(2)
    return found, len(lines)


def _split_flags(keyword: str, rest: str) -> tuple[tuple[tuple[str, str], ...], str]:
    flags = []
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        match = _FLAG_RE.match(word)
        if not match:
            break
        flags.append((match.group(1).lower(), match.group(2) or ""))
        rest = tail.lstrip()
    allowed = {"COPY": {"from", "chown", "chmod", "link"}, "ADD": {"chown", "chmod", "link"},
               "FROM": {"platform"}, "HEALTHCHECK": {"interval", "timeout", "start-period", "retries", "start-interval"}}
    for name, _ in flags:
        if name not in allowed.get(keyword, set()):
            raise InvalidArgument(f"Unknown flag: {name}")
    return tuple(flags), rest


def parse(text: str) -> list[Instruction]:
    """Parse a Dockerfile; raises InvalidArgument (400) on an unknown instruction."""
    lines = text.replace("\r\n", "\n").split("\n")
    directives, start = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise InvalidArgument(f"invalid escape token {escape!r} does not match ` or \\")
    out: list[Instruction] = []
    pending: list[str] = []
    first_line = 0
    number = start
    while number < len(lines):
        raw = lines[number]
        number += 1
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continuation
        if not pending:
            first_line = number
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(body)
        instr = _instruction("".join(_join(pending)), first_line)
        pending = []
        if instr.keyword in HEREDOC_KEYWORDS and _HEREDOC_RE.search(instr.args):
            heredocs, number = _read_heredocs(instr.args, lines, number, first_line)
            instr = Instruction(instr.keyword, instr.args, instr.flags, None, instr.line, instr.original, heredocs)
        out.append(instr)
    if pending:
        out.append(_instruction("".join(_join(pending)), first_line))
    return out


def _read_heredocs(args: str, lines: list[str], index: int, line: int) -> tuple[tuple[Heredoc, ...], int]:
    """The bodies of the heredocs ``args`` opens, read from ``lines[index:]``; the index after them."""
    found = []
    for match in _HEREDOC_RE.finditer(args):
        chomp, quote, name = match.group(1) == "-", match.group(2), match.group(3)
        body: list[str] = []
        raw: list[str] = []
        while True:
            if index >= len(lines):
                raise InvalidArgument(f"dockerfile parse error line {line}: unterminated heredoc {name}")
            text = lines[index]
            index += 1
            raw.append(text + "\n")
            content = text.lstrip("\t") if chomp else text
            if content == name:
                break
            body.append(content + "\n")
        found.append(Heredoc(name, "".join(body), not quote, "".join(raw), match.group(0)))
    return tuple(found), index


def _join(parts: list[str]) -> list[str]:
    """Continuation pieces joined as Docker does: the text kept, the escaped newline dropped."""
    return [parts[0].lstrip(), *parts[1:]]


def _instruction(line: str, number: int) -> Instruction:
    keyword, _, rest = line.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, tail = keyword.partition("\t")
        rest = tail + " " + rest
    keyword = keyword.upper()
    if keyword not in KNOWN:
        raise InvalidArgument(f"dockerfile parse error line {number}: unknown instruction: {keyword}")
    flags, rest = _split_flags(keyword, rest.strip())
    rest = rest.strip()
    json_args = parse_json_form(rest) if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME",
                                                     "HEALTHCHECK") else None
    return Instruction(keyword, rest, flags, json_args, number, line.strip())
