"""keras_gen/ stays in small modules and small functions, without import cycles.

Cycles are checked over module-level imports for the whole package (a lazy
import inside a function is how a layer reaches up at call time); the data
layer keeps no cycle even counting its lazy imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "keras_gen"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_small(path: Path) -> None:
    long = oversized(path, MAX_FILE_LINES, MAX_FUNCTION_LINES)
    assert not long, f"{path.name}: split into steps: {long}"


def oversized(path: Path, max_file: int, max_function: int) -> list[str]:
    """The file (if over `max_file` lines) and its functions over `max_function`."""
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    found = [f"{path.name} ({lines} lines)"] if lines > max_file else []
    return found + [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > max_function
    ]


def _is_type_checking(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Statements run on import: the top level, into `if`/`try` blocks."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If | ast.Try) and not _is_type_checking(node):
            todo += [*node.body, *node.orelse]
            todo += getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                todo += handler.body
    return found


def _imports(path: Path, known: set[str], lazy: bool) -> set[str]:
    """Modules of `known` that `path` imports (in functions too if `lazy`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree) if lazy else _module_level(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def _assert_no_cycle(modules: list[Path], lazy: bool) -> None:
    known = {_name(p) for p in modules}
    graph = {_name(p): _imports(p, known, lazy) - {_name(p)} for p in modules}
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


def test_no_module_level_import_cycles() -> None:
    _assert_no_cycle(MODULES, lazy=False)


def test_data_layer_has_no_import_cycle_even_lazily() -> None:
    _assert_no_cycle(sorted((PACKAGE / "data").rglob("*.py")), lazy=True)
