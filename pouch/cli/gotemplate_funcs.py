"""The values and functions of Go templates (pouch/cli/gotemplate.py): how Go prints,
compares and encodes decoded JSON and docker's formatter contexts (:class:`Record`), Go's
builtins and docker's functions (cli/templates/templates.go). Pure."""

from __future__ import annotations

from pouch.cli import jsonwire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Record(dict):  # type: ignore[type-arg]
    """A docker formatter context: a struct whose fields are the keys (a callable value is a
    method taking the arguments: ``{{.Label "k"}}``); ``type_name`` is Go's, for errors."""

    type_name = "struct"

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.type_name = type_name
        self.used: set[str] = set()  # the fields a run read (docker's ps asks for sizes when .Size is)
        self.json: Any = None  # what ``json`` prints when the struct has its own JSON names (events.Message)


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = _NoValue()  # Go's invalid reflect.Value: a missing map key, a nil interface


# ---------------------------------------------------------------------------
# values as Go sees them

def truth(v: Any) -> bool:
    if v is NO_VALUE or v is None:
        return False
    if isinstance(v, Record):
        return True
    return bool(v)


def go_type(v: Any) -> str:
    if isinstance(v, Record):
        return v.type_name
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "interface {}"


def go_print(v: Any) -> str:
    """Go's ``%v`` of a value (an action's output)."""
    if v is NO_VALUE:
        return "<no value>"
    return _go_v(v)


def _go_v(v: Any) -> str:
    if v is None or v is NO_VALUE:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return _go_g(v)
    if isinstance(v, Record):
        return "{" + " ".join(_go_v(v[k]) for k in v if not callable(v[k])) + "}"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    return str(v)


def _go_g(v: float) -> str:
    text = repr(v)
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{exp[0] if exp[0] in '+-' else '+'}{exp.lstrip('+-').zfill(2)}"
    return text


def go_json(v: Any) -> str:
    """docker's ``json`` function: Go's encoder without HTML escaping; a Record's keys sorted
    (docker's contexts marshal as a map)."""
    text = jsonwire.dumps(_plain(v), compact=True, ensure_ascii=False).replace("\u2028", "\\u2028").replace(
        "\u2029", "\\u2029")
    if isinstance(v, Record) and v.json is None:  # docker's contexts: json.Marshal, which escapes HTML
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _plain(v: Any) -> Any:
    if v is NO_VALUE:
        return None
    if isinstance(v, Record) and v.json is not None:
        return v.json
    if isinstance(v, Record):
        return {k: _plain(v[k]) for k in sorted(v) if not callable(v[k])}
    return v


# ---------------------------------------------------------------------------
# functions

def _s(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type(v)}")
    return v


def _i(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"wrong type for value; expected int; got {go_type(v)}")
    return v


def _index(item: Any, *keys: Any) -> Any:
    cur = item
    for key in keys:
        if isinstance(cur, dict) and not isinstance(cur, Record):
            # a string map (Labels, Options) gives Go's zero value "", another one nothing
            cur = cur.get(key, "" if all(isinstance(v, str) for v in cur.values()) else NO_VALUE)
        elif cur is None and isinstance(key, str):  # a nil map of the typed struct
            cur = ""
        elif isinstance(cur, (list, str)):
            if not isinstance(key, int) or not 0 <= key < len(cur):
                raise IndexError(f"index out of range: {key}")
            cur = cur[key] if isinstance(cur, list) else ord(cur[key])
        elif cur is NO_VALUE:
            raise ValueError("index of untyped nil")
        elif isinstance(cur, Record):
            raise ValueError(f"can't index item of type {cur.type_name.lstrip('*')}")
        else:
            raise ValueError(f"can't index item of type {go_type(cur)}")
    return cur


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (list, str)):
        raise ValueError(f"can't slice item of type {go_type(item)}")
    lo, hi = (idx + (0, len(item)))[:2] if idx else (0, len(item))
    if not 0 <= lo <= hi <= len(item):
        raise IndexError(f"slice index out of range: {hi}")
    return item[lo:hi]


def _len(item: Any) -> int:
    if item is NO_VALUE or item is None:
        raise ValueError("len of nil pointer")
    if isinstance(item, (str, list, dict)):
        return len(item)
    raise ValueError(f"len of type {go_type(item)}")


def _basic(v: Any) -> Any:
    if v is NO_VALUE or v is None:
        raise ValueError("invalid type for comparison")
    if isinstance(v, (dict, list)):
        raise ValueError("non-comparable type")
    return v


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string" if isinstance(v, str) else "other"


def _eq(a: Any, *bs: Any) -> bool:
    a = _basic(a)
    for b in bs:
        b = _basic(b)
        if _kind(a) != _kind(b):
            raise ValueError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    a, b = _basic(a), _basic(b)
    if _kind(a) != _kind(b) or _kind(a) not in ("number", "string"):
        raise ValueError("incompatible types for comparison")
    return bool(a < b)


def _sprint(*args: Any) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _go_v(a)
    return out


def _title(s: Any) -> str:
    out, prev = [], " "
    for ch in _s(s):
        out.append(ch.upper() if not (prev.isalnum() or prev == "_") else ch)
        prev = ch
    return "".join(out)


def _truncate(s: Any, n: Any) -> str:
    s, n = _s(s), _i(n)
    return s if len(s.encode()) < n else s.encode()[:n].decode(errors="ignore")


def _pad(s: Any, prefix: Any, suffix: Any) -> str:
    s = _s(s)
    return s if not s else " " * _i(prefix) + s + " " * _i(suffix)


def _split(s: Any, sep: Any) -> list[str]:
    s, sep = _s(s), _s(sep)
    return list(s) if sep == "" else s.split(sep)


def _join(items: Any, sep: Any) -> str:
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ValueError(f"wrong type for value; expected []string; got {go_type(items)}")
    return _s(sep).join(items)


def sprintf(fmt: Any, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the common verbs (``%s %v %d %q %t %x %X %o %f %e %g %c %%``
    with flags, width and precision)."""
    fmt = _s(fmt)
    out, i, n = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "+-# 0":
            j += 1
        while j < len(fmt) and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        if j >= len(fmt):
            out.append("%!(NOVERB)")
            break
        spec, verb = fmt[i + 1:j], fmt[j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_verb(spec, verb, args[n]))
        n += 1
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={_go_v(a)}" for a in args[n:]) + ")")
    return "".join(out)


def _verb(spec: str, verb: str, arg: Any) -> str:  # noqa: PLR0911 - one return per verb
    if verb in "sv" and (verb == "v" or not isinstance(arg, (int, float))):
        text = _go_v(arg)
        prec = spec.partition(".")[2]
        if "." in spec and verb == "s":
            text = text[: int(prec or 0)]
        return _width(spec, text)
    if verb == "q":
        return _width(spec, jsonwire.dumps(_go_v(arg) if not isinstance(arg, str) else arg, ensure_ascii=False))
    if verb == "t" and isinstance(arg, bool):
        return _width(spec, _go_v(arg))
    if verb == "c" and isinstance(arg, int):
        return _width(spec, chr(arg))
    if verb in "dxXob" and isinstance(arg, int) and not isinstance(arg, bool):
        return f"{arg:{_pyspec(spec)}{verb.replace('d', 'd')}}"
    if verb in "xX" and isinstance(arg, str):
        return _width(spec, arg.encode().hex().upper() if verb == "X" else arg.encode().hex())
    if verb in "feEgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return f"{float(arg):{_pyspec(spec) if '.' in spec or verb not in 'gG' else _pyspec(spec)}{verb}}"
    return f"%!{verb}({go_type(arg)}={_go_v(arg)})"


def _pyspec(spec: str) -> str:
    left = "-" in spec
    spec = spec.replace("-", "")
    if left:
        spec = "<" + spec.replace("0", "", 1) if spec.startswith("0") else "<" + spec
    return spec


def _width(spec: str, text: str) -> str:
    width = spec.lstrip("+-# 0").partition(".")[0]
    if not width:
        return text
    return text.ljust(int(width)) if "-" in spec else text.rjust(int(width))


def _html(*args: Any) -> str:
    text = _sprint(*args)
    for a, b in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("\0", "\ufffd")):
        text = text.replace(a, b)
    return text


def _not(v: Any) -> bool:
    return not truth(v)


FUNCS: dict[str, Callable[..., Any]] = {
    "not": _not,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not _lt(a, b) and not _eq(a, b),
    "ge": lambda a, b: not _lt(a, b),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _sprint,
    "printf": sprintf,
    "println": lambda *a: " ".join(_go_v(x) for x in a) + "\n",
    "html": _html,
    "js": lambda *a: jsonwire.dumps(_sprint(*a))[1:-1],
    "urlquery": lambda *a: "".join(ch if ch.isalnum() or ch in "-_.~" else "%" + ch.encode().hex().upper()
                                   for ch in _sprint(*a)),
    # docker's (cli/templates/templates.go)
    "json": go_json,
    "split": _split,
    "join": _join,
    "title": _title,
    "lower": lambda s: _s(s).lower(),
    "upper": lambda s: _s(s).upper(),
    "pad": _pad,
    "truncate": _truncate,
}

HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    **FUNCS,  # docker's HeaderFunctions pass the header text through
    "json": lambda v: v, "split": lambda v, _s: v, "join": lambda v, _s: v, "title": lambda v: v,
    "lower": lambda v: v, "upper": lambda v: v, "truncate": lambda v, _n: v, "pad": lambda v, _a, _b: v,
}
