"""Output formatting: docker-like tables, human durations and sizes, and a small
Go ``text/template`` subset for ``--format``. Pure functions, unit-tested.

Sources mirrored: go-units ``HumanDuration`` / ``HumanSizeWithPrecision`` /
``BytesSize``; docker/cli ``formatter`` (``ps`` and ``images`` columns, tabwriter
with minwidth 10 and padding 3, ``Ellipsis``, ``DisplayablePorts``).
"""

from __future__ import annotations

from pouch.cli import jsonwire
from pouch.humanize import human_duration  # noqa: F401  (re-exported for the verbs)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# ---------------------------------------------------------------------------
# humans

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.<p>g`` (same as C's except the exponent needs no zero padding)."""
    text = f"{value:.{precision}g}"
    if "e" in text:
        mant, exp = text.split("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0") or "0"
        text = f"{mant}e{sign}{digits.zfill(2)}"
    return text


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision`` (decimal units): ``4.26MB``; docker
    ``images`` uses precision 3, ``HumanSize`` is precision 4."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{_go_g(size, precision)}{_DECIMAL[i]}"


def bytes_size(size: float) -> str:
    """go-units ``BytesSize`` (binary units): ``1.953GiB``, as ``docker info`` prints memory."""
    i = 0
    while size >= 1024.0 and i < len(_BINARY) - 1:
        size /= 1024.0
        i += 1
    return f"{_go_g(size, 4)}{_BINARY[i]}"


def since(created: float, now: float) -> str:
    return f"{human_duration(now - created)} ago"


def ellipsis(text: str, width: int) -> str:
    """docker ``formatter.Ellipsis``: cut to ``width`` characters, the last one ``…``."""
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[: width - 1] + "…"


def short_id(ident: str, trunc: bool = True) -> str:
    ident = ident.removeprefix("sha256:")
    return ident[:12] if trunc else ident


# ---------------------------------------------------------------------------
# tables

def table(header: list[str], rows: list[list[str]], *, minwidth: int = 10, padding: int = 3) -> str:
    """Columns laid out like Go's ``tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)``:
    every cell but the last is padded to max(width + padding, minwidth)."""
    all_rows = [header] + rows
    ncols = max(len(r) for r in all_rows)
    widths = [0] * ncols
    for row in all_rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        cells.append(row[-1] if row else "")
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


def display_ports(ports: list[dict[str, Any]]) -> str:
    """docker's ``DisplayablePorts`` (CLI 23+): ports sorted by container port, then IP; a run of
    consecutive ports published on the same port numbers of one host IP (or only exposed)
    collapses to a range (``0.0.0.0:8000-8002->8000-8002/tcp``, ``5000-5001/tcp``); ports
    published on another host port stay one by one after them (``[::]:8080->80/tcp``)."""
    ports = list({tuple(sorted(p.items())): dict(p) for p in ports or []}.values())  # duplicates once (first kept)
    ports.sort(key=lambda p: (p.get("PrivatePort") or 0, p.get("IP") or "", p.get("PublicPort") or 0, p.get("Type") or ""))
    groups: dict[str, list[int]] = {}  # key -> [first, last], in the order the keys appear
    closed: list[str] = []
    host_mappings: list[str] = []
    for p in ports:
        private, public = p.get("PrivatePort") or 0, p.get("PublicPort") or 0
        ip, proto = p.get("IP") or "", p.get("Type") or "tcp"
        key = proto
        if ip:
            if public != private:
                host = f"[{ip}]" if ":" in ip else ip  # Go's net.JoinHostPort
                host_mappings.append(f"{host}:{public}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            closed.append(_port_group(key, *group))
            groups[key] = [private, private]
    return ", ".join([*closed, *(_port_group(k, *g) for k, g in groups.items()), *host_mappings])


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{ports}->{ports}/{proto}" if ip else f"{ports}/{proto}"


def ps_table(containers: list[dict[str, Any]], now: float, *, trunc: bool = True) -> str:
    header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    rows = []
    for c in containers:
        image = c.get("Image", "")
        if trunc and image.startswith("sha256:"):
            image = short_id(image)
        command = c.get("Command", "")
        if trunc:
            command = ellipsis(command, 20)
        names = [n.lstrip("/") for n in c.get("Names") or []]
        if trunc:
            names = [n for n in names if "/" not in n][:1] or names[:1]
        rows.append([
            short_id(c.get("Id", ""), trunc),
            image,
            jsonwire.dumps(command, ensure_ascii=False),
            since(c.get("Created", now), now),
            c.get("Status", ""),
            display_ports(c.get("Ports") or []),
            ",".join(names),
        ])
    return table(header, rows)


def split_repo_tag(ref: str) -> tuple[str, str]:
    """``localhost:5000/app:v1`` -> (``localhost:5000/app``, ``v1``); no tag -> ``<none>``."""
    if "@" in ref:
        return ref.split("@", 1)[0], "<none>"
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "<none>"


def images_table(images: list[dict[str, Any]], now: float, *, trunc: bool = True) -> str:
    header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    rows = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        if not tags:
            digests = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
            pairs = [(split_repo_tag(d)[0], "<none>") for d in digests[:1]] or [("<none>", "<none>")]
        else:
            pairs = [split_repo_tag(t) for t in tags]
        for repo, tag in pairs:
            rows.append([
                repo, tag,
                short_id(img.get("Id", ""), trunc) if trunc else img.get("Id", ""),
                since(img.get("Created", now), now),
                human_size(img.get("Size", 0)),
            ])
    return table(header, rows)


# ---------------------------------------------------------------------------
# Go template subset: {{.A.B}}, {{json .A}}, {{index .A "k"}}, {{upper/lower/title}},
# {{join .List ","}}, {{.}}, {{println ...}}; text outside actions is copied.

class TemplateError(ValueError):
    pass


def go_value(value: Any) -> str:
    """How Go's fmt prints a decoded-JSON value (``%v``)."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value)) if abs(value) < 1e21 else f"{value:g}"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)


_MISSING = object()


def _lookup(data: Any, path: str) -> Any:
    if path == ".":
        return data
    cur = data
    for part in path.lstrip(".").split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
            if cur is _MISSING:
                return _MISSING
        elif cur is _MISSING or cur is None:
            return _MISSING
        else:
            raise TemplateError(f"can't evaluate field {part} in type {type(cur).__name__}")
    return cur


def _tokens(action: str) -> list[str]:
    out, i = [], 0
    while i < len(action):
        c = action[i]
        if c.isspace():
            i += 1
        elif c in "\"`":
            j = action.find(c, i + 1)
            if j < 0:
                raise TemplateError(f"unterminated quoted string in {action!r}")
            out.append(action[i:j + 1])
            i = j + 1
        else:
            j = i
            while j < len(action) and not action[j].isspace():
                j += 1
            out.append(action[i:j])
            i = j
    return out


def _arg(token: str, data: Any) -> Any:
    if token.startswith(".") or token == ".":
        return _lookup(data, token)
    if token[0] in "\"`":
        return jsonwire.loads(token) if token[0] == '"' else token[1:-1]
    if token.lstrip("-").isdigit():
        return int(token)
    raise TemplateError(f'function "{token}" not defined')


def _show(value: Any) -> str:
    return "<no value>" if value is _MISSING else go_value(value)


def _eval(action: str, data: Any) -> str:
    tokens = _tokens(action)
    if not tokens:
        raise TemplateError("missing value for command")
    fn, args = tokens[0], tokens[1:]
    if fn.startswith(".") or fn[0] in "\"`":
        if args:
            raise TemplateError(f"can't give argument to non-function {fn}")
        return _show(_arg(fn, data))
    values = [_arg(a, data) for a in args]
    values = [None if v is _MISSING else v for v in values]
    if fn == "json":
        if len(values) != 1:
            raise TemplateError("wrong number of args for json: want 1")
        return jsonwire.dumps(values[0], compact=True, ensure_ascii=False)
    if fn == "index":
        cur = values[0]
        for key in values[1:]:
            try:
                cur = cur[key]
            except (KeyError, IndexError, TypeError):
                cur = None if isinstance(cur, dict) else _MISSING
                if cur is _MISSING:
                    raise TemplateError(f"error calling index: index out of range: {key}") from None
        return _show(cur)
    if fn in ("upper", "lower", "title"):
        text = go_value(values[0])
        return {"upper": text.upper, "lower": text.lower, "title": text.title}[fn]()
    if fn == "join":
        return values[1].join(go_value(v) for v in values[0] or [])
    if fn in ("print", "println"):
        return " ".join(go_value(v) for v in values) + ("\n" if fn == "println" else "")
    if fn == "len":
        return str(len(values[0] or []))
    raise TemplateError(f'function "{fn}" not defined')


def render_template(template: str, data: Any) -> str:
    """Execute a Go-template subset against decoded JSON (docker ``--format``)."""
    out = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            out.append(template[pos:])
            break
        end = template.find("}}", start)
        if end < 0:
            raise TemplateError("unclosed action")
        text = template[pos:start]
        inner = template[start + 2:end]
        if inner.startswith("-"):  # {{- trims preceding space
            text = text.rstrip()
            inner = inner[1:]
        trim_after = inner.endswith("-")
        if trim_after:
            inner = inner[:-1]
        out.append(text)
        out.append(_eval(inner.strip(), data))
        pos = end + 2
        if trim_after:
            while pos < len(template) and template[pos].isspace():
                pos += 1
    return "".join(out)


def pretty_json(value: Any) -> str:
    """``docker inspect`` output: a JSON array indented by 4 spaces."""
    import json  # noqa: PLC0415 - lazy: indenting needs the json package's encoder (re, enum: ~5 ms); ps loads this module, only inspect pays

    return json.dumps(value, indent=4, ensure_ascii=False)
