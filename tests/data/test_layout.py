"""keras_gen/data/ stays in small modules and small functions, without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / "keras_gen" / "data"
MODULES = sorted(DATA.rglob("*.py"))
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def _name(path: Path) -> str:
    parts = path.relative_to(DATA.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DATA)))
def test_modules_and_functions_are_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_FILE_LINES, path.name
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: split into steps: {long}"


def _imports(path: Path, known: set[str]) -> set[str]:
    """Modules of keras_gen.data imported anywhere in ``path`` (lazily too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def test_no_import_cycles() -> None:
    known = {_name(p) for p in MODULES}
    graph = {_name(p): _imports(p, known) - {_name(p)} for p in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                cycle = path[path.index(other) :] + [other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if not state.get(other):
                visit(other)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module)
