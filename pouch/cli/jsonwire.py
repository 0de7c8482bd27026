"""JSON for the CLI's wire traffic without importing the ``json`` package.

``import json`` pulls in ``re`` and, through it, ``enum``: about 5 ms of a CLI
start that is otherwise 8 ms. The C accelerator ``_json`` that the ``json``
package itself drives does the real work; this module calls it directly, the
way ``json.encoder`` and ``json.decoder`` do, with the same defaults as
``json.dumps(obj)`` / ``json.loads(text)``. Where ``_json`` is missing (another
Python implementation), it falls back to the ``json`` package.

Output and errors match the ``json`` package: ``dumps`` raises TypeError for an
object it cannot encode; ``loads`` raises ``json.JSONDecodeError`` (a ValueError).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

_json: ModuleType | None  # the C module's stub wants a scanner as make_scanner's context
try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None

_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


def _not_serializable(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class _DecoderContext:
    """The attributes ``_json.make_scanner`` reads (those of ``json.JSONDecoder()``)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


if _json is not None:
    _scan_once = _json.make_scanner(_DecoderContext())
    _make_encoder, _ascii, _unicode = _json.make_encoder, _json.encode_basestring_ascii, _json.encode_basestring

    def dumps(obj: Any, compact: bool = False, ensure_ascii: bool = True) -> str:
        """``json.dumps(obj, ensure_ascii=...)`` (``compact``: ``separators=(",", ":")``)."""
        item_sep, key_sep = (",", ":") if compact else (", ", ": ")
        strings = _ascii if ensure_ascii else _unicode
        encode = _make_encoder({}, _not_serializable, strings, None, key_sep, item_sep, False, False, True)
        return "".join(encode(obj, 0))

    def loads(text: str | bytes) -> Any:
        """``json.loads(text)`` for UTF-8 text or bytes."""
        if not isinstance(text, str):
            text = bytes(text).decode("utf-8")
        start = len(text) - len(text.lstrip(" \t\n\r"))
        try:
            obj, end = _scan_once(text, start)
        except StopIteration as err:
            _raise("Expecting value", text, err.value)
        if text[end:].strip(" \t\n\r"):
            _raise("Extra data", text, end)
        return obj

    def _raise(message: str, text: str, pos: int) -> None:
        from json import JSONDecodeError  # noqa: PLC0415 - lazy: the json package costs ~5 ms; only a decode error pays

        raise JSONDecodeError(message, text, pos) from None

else:  # pragma: no cover
    import json as _std

    def dumps(obj: Any, compact: bool = False, ensure_ascii: bool = True) -> str:
        return _std.dumps(obj, separators=(",", ":") if compact else None, ensure_ascii=ensure_ascii)

    def loads(text: str | bytes) -> Any:
        return _std.loads(text)
