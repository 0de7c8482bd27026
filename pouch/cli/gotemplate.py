"""Go's ``text/template`` with docker's functions, for ``--format``: lexer → parser →
evaluator, pure (no IO). The data are decoded JSON (maps: a missing key is ``<no value>``,
as docker's raw fallback) or a :class:`Record` (docker's formatter contexts: an unknown
field is an error naming it, as Go's for a struct). Errors read as Go's
(``template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type ...``).

Supported: text, ``{{/* comments */}}``, ``{{-``/``-}}`` trims, ``.Field.Chains``, ``.``,
``$``, ``$x := / =``, pipes, parenthesised pipelines, ``if/else if/else``, ``range`` (with
``$i, $v :=``, ``else``, ``break``, ``continue``), ``with/else``, string/raw/char/number/bool/
nil literals, Go's builtins (``and or not eq ne lt le gt ge len index slice print printf
println html js urlquery`` but ``call``), docker's (``json join split upper lower title
truncate pad``). Not: ``define``/``template``/``block``.
"""

from __future__ import annotations

from pouch.cli import jsonwire
from pouch.cli.gotemplate_funcs import FUNCS, HEADER_FUNCS, NO_VALUE, Record, go_print, go_type, truth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import dataclass, field
    from typing import Any
else:
    # the CLI's --format path: the dataclasses module costs ~35 ms to import (re, inspect, enum);
    # this makes the same __init__ (positional or keyword, defaults, default_factory)

    class _Factory:
        def __init__(self, default_factory):
            self.make = default_factory

    def field(*, default_factory):
        return _Factory(default_factory)

    def dataclass(cls=None, *, frozen=False):
        if cls is None:
            return dataclass
        names = list(cls.__dict__.get("__annotations__", {}))
        defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}

        def __init__(self, *args, **kwargs):
            for name, value in zip(names, args):
                object.__setattr__(self, name, value)
            for name in names[len(args):]:
                value = kwargs[name] if name in kwargs else defaults[name]
                object.__setattr__(self, name, value.make() if isinstance(value, _Factory) else value)

        cls.__init__ = __init__
        return cls


class TemplateError(ValueError):
    pass


# ---------------------------------------------------------------------------
# lexer

@dataclass(frozen=True)
class Tok:
    kind: str  # text open end comment field var ident string number char bool nil dot pipe lparen rparen decl assign comma
    val: str
    pos: int


_PUNCT = {"|": "pipe", "(": "lparen", ")": "rparen", ",": "comma"}


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def lex(text: str) -> list[Tok]:
    """Text and action tokens, an ``end`` token closing each action."""
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        start = text.find("{{", pos)
        if start < 0:
            toks.append(Tok("text", text[pos:], pos))
            break
        chunk = text[pos:start]
        inner = start + 2
        if text.startswith("- ", inner) or text.startswith("-\t", inner) or text.startswith("-\n", inner):
            chunk = chunk.rstrip(" \t\r\n")
            inner += 1
        if chunk:
            toks.append(Tok("text", chunk, pos))
        toks.append(Tok("open", "", start))
        pos = _lex_action(text, inner, toks)
    return toks


def _lex_action(text: str, pos: int, toks: list[Tok]) -> int:
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            if text.startswith(" -}}", pos) or text.startswith("\t-}}", pos) or text.startswith("\n-}}", pos):
                break
            pos += 1
        if pos >= n:
            raise TemplateError(f"template: :{_line(text, pos)}: unclosed action")
        for close, trim in (("}}", False), (" -}}", True), ("\t-}}", True), ("\n-}}", True)):
            if text.startswith(close, pos):
                toks.append(Tok("end", "", pos))
                pos += len(close)
                if trim:
                    while pos < n and text[pos] in " \t\r\n":
                        pos += 1
                return pos
        pos = _lex_token(text, pos, toks)


def _lex_token(text: str, pos: int, toks: list[Tok]) -> int:  # noqa: PLR0911, PLR0912, C901 - one branch per token kind
    c = text[pos]
    if text.startswith("/*", pos):
        end = text.find("*/", pos)
        if end < 0:
            raise TemplateError(f"template: :{_line(text, pos)}: unclosed comment")
        toks.append(Tok("comment", "", pos))
        return end + 2
    if c in _PUNCT:
        toks.append(Tok(_PUNCT[c], c, pos))
        return pos + 1
    if text.startswith(":=", pos):
        toks.append(Tok("decl", ":=", pos))
        return pos + 2
    if c == "=":
        toks.append(Tok("assign", "=", pos))
        return pos + 1
    if c in "\"`'":
        end = _quote_end(text, pos)
        toks.append(Tok({'"': "string", "`": "string", "'": "char"}[c], text[pos:end], pos))
        return end
    if c == "." or c == "$" or c.isalpha() or c == "_":
        end = pos + 1
        while end < len(text) and (text[end].isalnum() or text[end] in "_."):
            end += 1
        word = text[pos:end]
        if c == ".":
            toks.append(Tok("dot" if word == "." else "field", word, pos))
        elif c == "$":
            toks.append(Tok("var", word, pos))
        elif word in ("true", "false"):
            toks.append(Tok("bool", word, pos))
        elif word == "nil":
            toks.append(Tok("nil", word, pos))
        else:
            toks.append(Tok("ident", word, pos))
        return end
    if c.isdigit() or (c in "+-" and pos + 1 < len(text) and text[pos + 1].isdigit()):
        end = pos + 1
        while end < len(text) and (text[end].isalnum() or text[end] in "._+-"):
            if text[end] in "+-" and text[end - 1] not in "eEpP":
                break
            end += 1
        toks.append(Tok("number", text[pos:end], pos))
        return end
    raise TemplateError(f"template: :{_line(text, pos)}: unexpected {c!r} in command".replace("'", '"', 2))


def _quote_end(text: str, pos: int) -> int:
    q = text[pos]
    i = pos + 1
    while i < len(text):
        if text[i] == "\\" and q != "`":
            i += 2
            continue
        if text[i] == q:
            return i + 1
        if text[i] == "\n" and q != "`":
            break
        i += 1
    raise TemplateError(f"template: :{_line(text, pos)}: unterminated quoted string")


# ---------------------------------------------------------------------------
# parser

@dataclass(frozen=True)
class Node:
    kind: str  # field, var, dot, nil, literal, ident, pipe, chain
    pos: int
    text: str  # Go's String() of the node, for errors
    value: Any = None  # literal value; var name; ident name; a Pipe for pipe/chain
    path: tuple[str, ...] = ()  # field names


@dataclass(frozen=True)
class Pipe:
    pos: int
    decl: tuple[str, ...]
    assign: bool  # `=` rather than `:=`
    cmds: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class Block:
    kind: str  # text, action, if, range, with, break, continue
    pos: int
    text: str = ""
    pipe: Pipe | None = None
    body: tuple[Block, ...] = ()
    orelse: tuple[Block, ...] = ()


@dataclass
class _Parser:
    src: str
    toks: list[Tok]
    i: int = 0
    name: str = ""
    loops: int = 0
    vars: list[str] = field(default_factory=lambda: ["$"])

    def fail(self, msg: str, pos: int | None = None) -> TemplateError:
        at = self.toks[self.i].pos if pos is None and self.i < len(self.toks) else (pos or len(self.src))
        return TemplateError(f"template: {self.name}:{_line(self.src, at)}: {msg}")

    def peek(self) -> Tok:
        if self.i >= len(self.toks):
            raise self.fail("unexpected EOF")
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def items(self, stop: tuple[str, ...]) -> tuple[tuple[Block, ...], str]:
        """Blocks up to one of the ``stop`` keywords (``end``, ``else``): returns which."""
        out: list[Block] = []
        while self.i < len(self.toks):
            tok = self.take()
            if tok.kind == "text":
                out.append(Block("text", tok.pos, tok.val))
                continue
            head = self.peek()
            if head.kind == "comment":
                self.i += 1
                self.expect_end()
                continue
            if head.kind == "end":
                raise self.fail("missing value for command")
            if head.kind == "ident" and head.val in ("end", "else"):
                if head.val not in stop:
                    raise self.fail(f"unexpected {{{{{head.val}}}}}")
                self.i += 1
                if head.val == "end":
                    self.expect_end()
                return tuple(out), head.val
            out.append(self.action())
        if stop:
            raise self.fail("unexpected EOF", len(self.src))
        return tuple(out), ""

    def action(self) -> Block:
        head = self.peek()
        if head.kind == "ident" and head.val in ("if", "with", "range"):
            self.i += 1
            return self.control(head.val, head.pos)
        if head.kind == "ident" and head.val in ("break", "continue"):
            self.i += 1
            if not self.loops:
                raise self.fail(f"{{{{{head.val}}}}} outside {{{{range}}}}")
            self.expect_end()
            return Block(head.val, head.pos)
        if head.kind == "ident" and head.val in ("define", "template", "block"):
            raise self.fail(f"{head.val} is not supported")
        return Block("action", head.pos, pipe=self.pipeline(head.val))

    def expect_end(self) -> None:
        tok = self.take()
        if tok.kind != "end":
            raise self.fail(f"unexpected {tok.val!r} in command".replace("'", '"'))

    def control(self, kind: str, pos: int) -> Block:
        mark = len(self.vars)
        pipe = self.pipeline(kind)
        self.loops += kind == "range"
        body, stop = self.items(("end", "else"))
        self.loops -= kind == "range"
        orelse: tuple[Block, ...] = ()
        if stop == "else":
            nxt = self.peek()
            if nxt.kind == "ident" and nxt.val in ("if", "with") and kind != "range":  # else if / else with
                self.i += 1
                del self.vars[mark:]
                orelse = (self.control(nxt.val, nxt.pos),)
            else:
                self.expect_end()
                orelse, _ = self.items(("end",))
        else:
            pass
        del self.vars[mark:]
        return Block(kind, pos, pipe=pipe, body=body, orelse=orelse)

    def pipeline(self, context: str) -> Pipe:
        pos = self.peek().pos
        decl: list[str] = []
        assign = False
        save = self.i
        while self.peek().kind == "var":
            decl.append(self.take().val)
            nxt = self.peek()
            if nxt.kind in ("decl", "assign") and (len(decl) == 1 or context == "range"):
                self.i += 1
                assign = nxt.kind == "assign"
                break
            if nxt.kind == "comma" and context == "range" and len(decl) == 1:
                self.i += 1
                continue
            decl, self.i = [], save
            break
        if not assign:
            self.vars.extend(decl)
        cmds: list[tuple[Node, ...]] = []
        while True:
            tok = self.peek()
            if tok.kind in ("end", "rparen"):
                if tok.kind == "end":
                    self.i += 1
                elif context != "paren":
                    raise self.fail("unexpected right paren")
                break
            cmds.append(self.command())
            if self.peek().kind == "pipe":
                self.i += 1
                if self.peek().kind in ("end", "rparen"):
                    raise self.fail("missing command")
        if not cmds:
            raise self.fail(f"missing value for {context}")
        for cmd in cmds[1:]:
            if cmd[0].kind in ("literal", "nil"):
                raise self.fail(f"non executable command in pipeline stage {cmds.index(cmd) + 1}")
        return Pipe(pos, tuple(decl), assign, tuple(cmds))

    def command(self) -> tuple[Node, ...]:
        args: list[Node] = []
        start = self.peek().pos
        while self.peek().kind not in ("end", "rparen", "pipe"):
            args.append(self.operand())
        if not args:
            raise self.fail("missing value for command")
        head = args[0]
        if head.kind == "ident":  # Go names the whole command in an error: <index .A 5>
            text = self.src[start:self.peek().pos].strip()
            args[0] = Node("ident", start, text, head.value)
        return tuple(args)

    def operand(self) -> Node:  # noqa: PLR0911 - one return per operand kind
        tok = self.take()
        if tok.kind == "field":
            return Node("field", tok.pos + tok.val.rfind("."), tok.val, path=tuple(tok.val[1:].split(".")))
        if tok.kind == "dot":
            return Node("dot", tok.pos, ".")
        if tok.kind == "var":
            name, _, rest = tok.val.partition(".")
            if name not in self.vars:
                raise self.fail(f'undefined variable "{name}"')
            return Node("var", tok.pos, tok.val, name, tuple(rest.split(".")) if rest else ())
        if tok.kind == "nil":
            return Node("nil", tok.pos, "nil")
        if tok.kind == "ident":
            if tok.val not in FUNCS and tok.val not in ("and", "or"):
                raise self.fail(f'function "{tok.val}" not defined')
            return Node("ident", tok.pos, tok.val, tok.val)
        if tok.kind == "lparen":
            pipe = self.pipeline("paren")
            self.take()
            nxt = self.toks[self.i] if self.i < len(self.toks) else None
            if nxt is not None and nxt.kind == "field" and nxt.pos == self.toks[self.i - 1].pos + 1:
                self.i += 1
                return Node("chain", tok.pos, f"(...){nxt.val}", pipe, tuple(nxt.val[1:].split(".")))
            return Node("pipe", tok.pos, "(...)", pipe)
        if tok.kind in ("string", "char", "number", "bool"):
            return Node("literal", tok.pos, tok.val, self.literal(tok))
        raise self.fail(f"unexpected {tok.val!r} in operand".replace("'", '"'))

    def literal(self, tok: Tok) -> Any:
        v = tok.val
        if tok.kind == "bool":
            return v == "true"
        if tok.kind == "string":
            return v[1:-1] if v[0] == "`" else _unquote(v)
        if tok.kind == "char":
            return ord(_unquote('"' + v[1:-1] + '"'))
        try:
            clean = v.replace("_", "")
            low = clean.lower().lstrip("+-")
            if low.startswith(("0x", "0o", "0b")) or (low.isdigit() and low.startswith("0") and len(low) > 1):
                return int(clean, 0) if not low[1].isdigit() else int(clean, 8)
            return int(clean) if clean.lstrip("+-").isdigit() else float(clean)
        except ValueError:
            raise self.fail(f"bad number syntax: {v!r}".replace("'", '"')) from None


def _unquote(v: str) -> str:
    try:
        out = jsonwire.loads(v)
    except ValueError:
        raise TemplateError(f"template: :1: bad string syntax: {v}") from None
    return str(out)


def parse(text: str, name: str = "") -> tuple[Block, ...]:
    try:
        toks = lex(text)
    except TemplateError as e:
        raise TemplateError(str(e).replace("template: :", f"template: {name}:", 1)) from None
    parser = _Parser(text, toks, name=name)
    blocks, _ = parser.items(())
    return blocks


# ---------------------------------------------------------------------------
# evaluator

class _Break(Exception):  # noqa: N818 - control flow, not an error
    pass


class _Continue(Exception):  # noqa: N818 - control flow, not an error
    pass


@dataclass
class _State:
    src: str
    out: list[str]
    vars: list[tuple[str, Any]]
    funcs: dict[str, Callable[..., Any]]
    opts: Options

    def fail(self, msg: str, node: Node) -> TemplateError:
        src, pos = self.src, node.pos
        if self.opts.source is not None and self.opts.posmap is not None:
            src, pos = self.opts.source, self.opts.posmap[pos]
        line = _line(src, pos)
        col = pos - (src.rfind("\n", 0, pos) + 1)
        name = self.opts.name
        return TemplateError(f'template: {name}:{line}:{col}: executing "{name}" at <{node.text}>: {msg}')

    def var(self, name: str) -> Any:
        for key, value in reversed(self.vars):
            if key == name:
                return value
        raise TemplateError(f"undefined variable: {name}")


@dataclass(frozen=True)
class Options:
    name: str = ""  # the template's name, in errors (``version`` for docker's version)
    strict: bool = False  # a missing key of a struct-like map is an error (docker 28's inspect fallback)
    source: str | None = None  # the text the user gave, when ``template`` was derived from it ...
    posmap: tuple[int, ...] | None = None  # ... and where each character of ``template`` came from


def execute(template: str, data: Any, funcs: dict[str, Callable[..., Any]] | None = None,
            opts: Options | None = None) -> str:
    """Parse and run ``template`` on ``data``; :class:`TemplateError` as Go's text."""
    opts = opts or Options()
    blocks = parse(template, opts.name)
    state = _State(template, [], [("$", data)], funcs or FUNCS, opts)
    _run(state, blocks, data)
    return "".join(state.out)


def _run(state: _State, blocks: tuple[Block, ...], dot: Any) -> None:
    for b in blocks:
        if b.kind == "text":
            state.out.append(b.text)
        elif b.kind == "action":
            assert b.pipe is not None
            value = _pipe(state, b.pipe, dot)
            if not b.pipe.decl:
                state.out.append(go_print(value))
        elif b.kind in ("if", "with"):
            _cond(state, b, dot)
        elif b.kind == "range":
            _range(state, b, dot)
        elif b.kind == "break":
            raise _Break
        else:
            raise _Continue


def _cond(state: _State, b: Block, dot: Any) -> None:
    mark = len(state.vars)
    assert b.pipe is not None
    value = _pipe(state, b.pipe, dot)
    if truth(value):
        _run(state, b.body, value if b.kind == "with" else dot)
    else:
        _run(state, b.orelse, dot)
    del state.vars[mark:]


def _range(state: _State, b: Block, dot: Any) -> None:
    mark = len(state.vars)
    assert b.pipe is not None
    value = _pipe(state, b.pipe, dot, declare=False)
    if isinstance(value, dict):
        pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, (list, tuple)):
        pairs = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        pairs = [(i, i) for i in range(value)]
    elif value is NO_VALUE or value is None:
        pairs = []
    else:
        raise state.fail(f"range can't iterate over {go_print(value)}", b.pipe.cmds[0][0])
    for key, item in pairs:
        decl = b.pipe.decl
        if len(decl) == 1:
            state.vars.append((decl[0], item))
        elif len(decl) == 2:
            state.vars += [(decl[0], key), (decl[1], item)]
        try:
            _run(state, b.body, item)
        except _Break:
            break
        except _Continue:
            pass
        finally:
            del state.vars[mark:]
    if not pairs:
        _run(state, b.orelse, dot)


def _pipe(state: _State, pipe: Pipe, dot: Any, declare: bool = True) -> Any:
    value: Any = NO_VALUE
    for i, cmd in enumerate(pipe.cmds):
        value = _command(state, cmd, dot, value if i else NO_VALUE, final=i > 0)
    if pipe.decl and declare:
        if pipe.assign:
            for j in range(len(state.vars) - 1, -1, -1):
                if state.vars[j][0] == pipe.decl[0]:
                    state.vars[j] = (pipe.decl[0], value)
                    break
        else:
            state.vars.append((pipe.decl[0], value))
    return value


def _command(state: _State, cmd: tuple[Node, ...], dot: Any, prev: Any, *, final: bool) -> Any:
    head, args = cmd[0], cmd[1:]
    if head.kind == "ident":
        return _call(state, head, args, dot, prev, final)
    if head.kind in ("field", "var", "chain") and (args or final):
        return _value(state, head, dot, [*(_arg(state, a, dot) for a in args), *([prev] if final else [])])
    if args or final:
        raise state.fail(f"can't give argument to non-function {head.text}", head)
    return _value(state, head, dot, [])


def _arg(state: _State, node: Node, dot: Any) -> Any:
    if node.kind == "ident":
        return _call(state, node, (), dot, NO_VALUE, False)
    return _value(state, node, dot, [])


def _value(state: _State, node: Node, dot: Any, args: list[Any]) -> Any:
    if node.kind == "dot":
        return dot
    if node.kind == "nil":
        raise state.fail("nil is not a command", node)
    if node.kind == "literal":
        return node.value
    if node.kind == "pipe":
        return _pipe(state, node.value, dot)
    if node.kind == "var":
        base = state.var(node.value)
    elif node.kind == "chain":
        base = _pipe(state, node.value, dot)
    else:
        base = dot
    return _fields(state, node, base, node.path, args)


def _fields(state: _State, node: Node, cur: Any, path: tuple[str, ...], args: list[Any]) -> Any:
    for n, name in enumerate(path):
        last = n == len(path) - 1
        if isinstance(cur, Record):
            cur.used.add(name)
            if name not in cur:
                raise state.fail(f"can't evaluate field {name} in type {cur.type_name}", node)
            cur = cur[name]
            if callable(cur):
                given = args if last else []
                if len(given) != cur.__code__.co_argcount:
                    want = cur.__code__.co_argcount
                    raise state.fail(f"wrong number of args for {name}: want {want} got {len(given)}", node)
                cur = cur(*given)
                continue
            if last and args:  # docker's contexts are methods
                raise state.fail(f"wrong number of args for {name}: want 0 got {len(args)}", node)
        elif isinstance(cur, dict):
            if name not in cur and state.opts.strict and _struct_like(cur):
                raise state.fail(f'map has no entry for key "{name}"', node)
            cur = cur.get(name, NO_VALUE)
            if callable(cur):  # a header context's method (``{{.Label "k"}}``)
                cur = cur(*(args if last else []))
                continue
        elif cur is NO_VALUE or cur is None:
            return NO_VALUE
        else:
            raise state.fail(f"can't evaluate field {name} in type {go_type(cur)}", node)
        if last and args:
            raise state.fail(f"{name} is not a method but has arguments", node)
    return cur


_PARAMS = {"split": ("string", "string"), "join": ("[]string", "string"), "title": ("string",), "lower": ("string",),
           "upper": ("string",), "truncate": ("string", "int"), "pad": ("string", "int", "int"), "printf": ("string",)}


def _check_types(state: _State, name: str, head: Node, args: tuple[Node, ...], values: list[Any]) -> None:
    """Go's argument conversion for the typed functions: a literal of the wrong kind is named
    (``expected string; found 1``), another value by its type."""
    for i, want in enumerate(_PARAMS.get(name, ())):
        v = values[i]
        ok = (isinstance(v, str) if want == "string" else
              isinstance(v, int) and not isinstance(v, bool) if want == "int" else
              isinstance(v, list) and all(isinstance(x, str) for x in v))
        if ok:
            continue
        node = args[i] if i < len(args) else head
        if node.kind == "literal":
            raise state.fail(f"expected {want}; found {node.text}", node)
        raise state.fail(f"wrong type for value; expected {want}; got {go_type(v)}", node)


def _struct_like(d: dict[str, Any]) -> bool:
    """A decoded JSON object that was a Go struct (docker's typed inspect path would have failed
    on a missing field), not a free-form map such as Labels."""
    return bool(d) and all(isinstance(k, str) and k[:1].isupper() for k in d)


def _call(state: _State, head: Node, args: tuple[Node, ...], dot: Any, prev: Any, final: bool) -> Any:
    name = head.value
    if name in ("and", "or"):  # short-circuit: the arguments are evaluated in turn
        values = [*args, *([None] if final else [])]
        if not values:
            raise state.fail(f"wrong number of args for {name}: want at least 1 got 0", head)
        result: Any = NO_VALUE
        for a in values:
            result = prev if a is None else _arg(state, a, dot)
            if truth(result) != (name == "and"):
                return result
        return result
    values = [_arg(state, a, dot) for a in args] + ([prev] if final else [])
    fn = state.funcs[name]
    code = fn.__code__
    want, variadic = code.co_argcount, bool(code.co_flags & 0x04)
    if len(values) < want or (len(values) > want and not variadic):
        at_least = "at least " if variadic else ""
        raise state.fail(f"wrong number of args for {name}: want {at_least}{want} got {len(values)}",
                         Node("ident", head.pos, name, name))
    _check_types(state, name, head, args, values)
    try:
        return fn(*values)
    except (ValueError, IndexError, KeyError) as e:
        raise state.fail(f"error calling {name}: {e.args[0] if e.args else e}", head) from None


def execute_header(template: str, headers: dict[str, str], opts: Options | None = None) -> str:
    """A ``table`` format's header line: the template run on ``{field: HEADER}`` with docker's
    pass-through header functions."""
    return execute(template, headers, HEADER_FUNCS, opts)
