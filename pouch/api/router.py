"""Routing for the Engine API server: ``(method, path)`` to a handler.

A **route** is ``(method, pattern, handler)``; a pattern like ``/containers/{id}/json``
where ``{id}`` matches one path segment and ``{name:path}`` any number of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pouch.api.server import Request, Response

Handler = Callable[["Request"], "Response"]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    order: tuple[int, int, int]


class Router:
    """Maps ``(method, path)`` to handlers.

    Segment parameters win over ``{name:path}`` ones, and among equals the pattern
    with more literal text wins, so ``/images/{name:path}/json`` is preferred to
    ``/images/{name:path}`` for ``GET /images/a/b/json``.
    """

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex, pos, path_params, literal = "", 0, 0, 0
        for m in _PARAM.finditer(pattern):
            regex += re.escape(pattern[pos : m.start()])
            literal += m.start() - pos
            if m.group(2):
                regex += f"(?P<{m.group(1)}>.+)"
                path_params += 1
            else:
                regex += f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        regex += re.escape(pattern[pos:])
        literal += len(pattern) - pos
        order = (path_params, -literal, len(self._routes))
        self._routes.append(_Route(method.upper(), pattern, re.compile(f"^{regex}$"), handler, order))
        self._routes.sort(key=lambda r: r.order)

    def resolve(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str]] | tuple[None, list[str]]:
        """``(handler, params)``, or ``(None, allowed_methods)`` (empty: no such path)."""
        allowed: list[str] = []
        fallback: tuple[Handler, dict[str, str]] | None = None
        for route in self._routes:
            m = route.regex.match(raw_path)
            if not m:
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            if route.method == method:
                return route.handler, params
            if method == "HEAD" and route.method == "GET" and fallback is None:
                fallback = (route.handler, params)
            if route.method not in allowed:
                allowed.append(route.method)
        if fallback is not None:
            return fallback
        return None, allowed
