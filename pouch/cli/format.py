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
# --format: Go templates (pouch/cli/gotemplate.py, imported only when a verb is given one)
# run the way docker/cli's formatter.Context runs them

class TemplateError(ValueError):
    """A template that does not parse or execute; the text is Go's (``template: :1:...``)."""


def render_template(template: str, data: Any, *, name: str = "", strict: bool = True) -> str:
    """Execute a Go template against ``data`` (decoded JSON or a ``gotemplate.Record``); ``strict``:
    a field missing from a struct-like object is an error, as docker 28's inspect."""
    from pouch.cli import gotemplate  # noqa: PLC0415 - lazy: only --format; `ps` without it is a hot path

    try:
        return gotemplate.execute(template, data, opts=gotemplate.Options(name=name, strict=strict))
    except gotemplate.TemplateError as e:
        raise TemplateError(str(e)) from None


def record(type_name: str, fields: dict[str, Any]) -> Any:
    """A docker formatter context (``*formatter.ContainerContext``...): unknown fields are errors."""
    from pouch.cli import gotemplate  # noqa: PLC0415 - lazy: only --format

    return gotemplate.Record(type_name, fields)


def _prepare(fmt: str) -> tuple[bool, str, tuple[int, ...]]:
    """docker's ``preFormat``: ``table`` cut, ``json`` → ``{{json .}}``, spaces trimmed, ``\\t``/``\\n``
    replaced; with where each character came from in ``fmt`` (Go's errors count in ``fmt``)."""
    is_table = fmt.startswith("table")
    if fmt == "json":
        return False, "{{json .}}", (0,) * 10
    start = len("table") if is_table else 0
    end = len(fmt)
    while start < end and fmt[start] == " ":
        start += 1
    while end > start and fmt[end - 1] == " ":
        end -= 1
    chars: list[str] = []
    where: list[int] = []
    i = start
    while i < end:
        if fmt[i] == "\\" and i + 1 < end and fmt[i + 1] in "tn":
            chars.append("\t" if fmt[i + 1] == "t" else "\n")
            where.append(i)
            i += 2
            continue
        chars.append(fmt[i])
        where.append(i)
        i += 1
    where.append(end)
    return is_table, "".join(chars), tuple(where)


def render_rows(fmt: str, rows: list[Any], headers: dict[str, str]) -> str:
    """docker's ``formatter.Context``: ``json`` is ``{{json .}}``; ``table ...`` gets a header
    line (the template run on ``headers``) and the cells laid out by a tabwriter; one output
    line per row."""
    from pouch.cli import gotemplate  # noqa: PLC0415 - lazy: only --format

    is_table, text, where = _prepare(fmt)
    opts = gotemplate.Options(source=fmt, posmap=where)
    try:
        body = "".join(gotemplate.execute(text, row, opts=opts) + "\n" for row in rows)
        if not is_table:
            return body
        header = gotemplate.execute_header(text, headers, opts)
    except gotemplate.TemplateError as e:
        raise TemplateError(str(e)) from None
    return tabwrite(header + "\n" + body)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's ``tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)`` over ``text``: cells are
    tab-terminated, a column block (consecutive lines with that cell) is as wide as its widest
    cell plus padding, at least minwidth; the text after a line's last tab is not aligned."""
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    _tab_block(lines, 0, len(lines), [], out, minwidth, padding)
    return "\n".join(out)


def _tab_block(lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str],
               minwidth: int, padding: int) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _tab_lines(lines, line0, this, widths, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        _tab_block(lines, line0, this, [*widths, width], out, minwidth, padding)
        line0 = this
    _tab_lines(lines, line0, line1, widths, out)


def _tab_lines(lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str]) -> None:
    for cells in lines[line0:line1]:
        out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))


def pretty_json(value: Any) -> str:
    """``docker inspect`` output: a JSON array indented by 4 spaces."""
    import json  # noqa: PLC0415 - lazy: indenting needs the json package's encoder (re, enum: ~5 ms); ps loads this module, only inspect pays

    return json.dumps(value, indent=4, ensure_ascii=False)
