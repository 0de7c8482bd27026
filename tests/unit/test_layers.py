"""The package's shape, checked from its source: who may import whom, and no import cycles.

Layers, never upward (docs/ARCHITECTURE.md): shared data and pure modules → storage →
runtime, network, rich → services → the engine → the front ends (api/, and cli/, which
speaks HTTP only). Imports under ``if TYPE_CHECKING:`` are for annotations and do not
count; every other import does, function-level ones included (a lazy import still runs).
"""

from __future__ import annotations

import ast
import os

import pytest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "pouch")

FRONT_ENDS = ("pouch.api", "pouch.cli", "pouch.cri")
TOP = ("pouch.daemon", "pouch.engine", *FRONT_ENDS)
SERVICE_LEVEL = ("pouch.services", "pouch.build")
# What the CLI may import besides itself: shared values and pure client-side helpers, no engine.
CLI_ALLOWED = ("pouch.cli", "pouch.errors", "pouch.models", "pouch.humanize", "pouch.reference",
               "pouch.registry.auth", "pouch.registry.endpoints", "pouch.build.ignore", "pouch.detachkeys")


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules() -> dict[str, str]:
    found = {}
    for dirpath, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(node: ast.AST, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        package = module if MODULES.get(module, "").endswith("__init__.py") else module.rpartition(".")[0]
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
        # `from pouch.x import y` imports the submodule pouch.x.y when there is one
        return [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return []


def _imports(module: str) -> set[str]:
    """The pouch modules ``module`` imports at run time (TYPE_CHECKING blocks left out)."""
    with open(MODULES[module]) as f:
        tree = ast.parse(f.read())
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        for name in _imported(node, module):
            if name in MODULES and name != module:
                out.add(name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


GRAPH = {module: _imports(module) for module in MODULES}


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_graph_sees_imports():  # the checks below are only as good as this
    assert "pouch.services.containers" in GRAPH["pouch.engine"]
    assert "pouch.errors" in GRAPH["pouch.models"]


def test_only_the_top_imports_the_engine_and_the_front_ends():
    upward = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() if not _within(m, TOP)
                    for d in deps if _within(d, TOP))
    assert upward == []


def test_no_front_end_imports_another():
    crossed = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps
                     if _within(m, ("pouch.api",)) and _within(d, ("pouch.cli",))
                     or _within(m, ("pouch.cli",)) and _within(d, ("pouch.api",)))
    assert crossed == []


def test_storage_runtime_and_network_do_not_import_services():
    upward = sorted(f"{m} -> {d}" for m, deps in GRAPH.items()
                    if not _within(m, (*TOP, *SERVICE_LEVEL)) for d in deps if _within(d, SERVICE_LEVEL))
    assert upward == []


def test_the_cli_imports_nothing_of_the_engine():
    outside = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() if _within(m, ("pouch.cli",))
                     for d in deps if not _within(d, CLI_ALLOWED) and d != "pouch")
    assert outside == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                connect(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _package_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_cycles():
    # a module importing its own package's __init__ is Python's normal package loading, not a cycle
    graph = {m: {d for d in deps if d not in _package_parents(m)} for m, deps in GRAPH.items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_cycle_finder(graph, expected):
    assert _cycles(graph) == expected
