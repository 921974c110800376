"""The layer rules of docs/architecture.md, read from the source with `ast` on every run.

bot → handlers → scheduler / reports → kernel → storage → matching: a module imports its own
layer or a lower one, never a higher one; a feature (a module or package under handlers/) imports
no other feature; there is no import cycle; nothing imports a library's private module; and no
import hides inside a function except the heavy optional libraries kept off the start-up path.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lower number = lower layer. scheduler and reports share a layer; the weekly digest (scheduler)
# renders the report, so scheduler may import reports and not the other way round.
RANK = {"matching": 0, "storage": 1, "kernel": 2, "reports": 3, "scheduler": 3.5, "handlers": 4, "bot": 5}
OURS = frozenset(RANK)

# Imported inside a function on purpose: charts and spreadsheets cost a second at start and only
# a report or an export needs them.
LAZY_ALLOWED = frozenset({"matplotlib", "koreanize_matplotlib", "xlsxwriter"})

# Every file that is checked for private imports (tests and tools included); the layer rules apply
# to the packages of the bot itself.
ALL_CODE = ("bot", "kernel", "handlers", "scheduler", "reports", "storage", "matching", "tests", "bench", "tools",
            "deploy")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute
    line: int
    in_function: bool
    type_only: bool  # under `if TYPE_CHECKING:`: no runtime edge


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> Iterator[Import]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def walk(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function, type_only)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                yield Import(module, target, child.lineno, in_function, type_only)
                # `from pkg import mod` imports pkg.mod when mod is a module of ours.
                for alias in child.names:
                    sub = ROOT.joinpath(*target.split("."), alias.name)
                    if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                        yield Import(module, f"{target}.{alias.name}", child.lineno, in_function, type_only)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), in_function, True)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), in_function, type_only)
            else:
                yield from walk(child, in_function, type_only)

    yield from walk(tree, False, False)


def files(*tops: str) -> list[Path]:
    found = []
    for top in tops:
        base = ROOT / top
        found += [p for p in base.rglob("*.py") if "__pycache__" not in p.parts] if base.is_dir() else []
    return sorted(found)


BOT_FILES = files(*RANK)
ALL_IMPORTS = [imp for path in BOT_FILES for imp in imports_of(path)]
OUR_IMPORTS = [imp for imp in ALL_IMPORTS if imp.target.split(".")[0] in OURS]


def layer(name: str) -> str:
    return name.split(".")[0]


def feature(name: str) -> str | None:
    """The room a handlers module belongs to: `handlers.jobs.postings` -> `jobs`."""
    parts = name.split(".")
    return parts[1] if parts[0] == "handlers" and len(parts) > 1 else None


def test_the_rules_see_the_code() -> None:
    # A parser that silently found nothing would pass every rule below.
    assert len(BOT_FILES) > 80
    assert any(imp.module == "bot.app" and imp.target.startswith("handlers") for imp in OUR_IMPORTS)
    assert any(imp.type_only for imp in ALL_IMPORTS)


def test_imports_point_down() -> None:
    upward = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in OUR_IMPORTS
              if RANK[layer(imp.target)] > RANK[layer(imp.module)]]
    assert upward == []


def test_no_feature_imports_another() -> None:
    crossing = []
    for imp in OUR_IMPORTS:
        room = feature(imp.module)
        if room is None or layer(imp.target) != "handlers":
            continue
        other = feature(imp.target)
        # `from handlers import x` (the package itself) is no dependency on a feature.
        if other is not None and other != room:
            crossing.append(f"{imp.module}:{imp.line} imports {imp.target}")
    assert crossing == []


def test_no_import_cycle() -> None:
    modules = {module_name(p) for p in BOT_FILES}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in OUR_IMPORTS:
        if imp.type_only or imp.target == imp.module:
            continue
        # An import of `a.b.c` runs `a` and `a.b` first: count the edge to the module itself only.
        target = imp.target
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules and not imp.module.startswith(target + ".") and target != imp.module:
            graph[imp.module].add(target)

    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_no_import_inside_a_function() -> None:
    hidden = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in ALL_IMPORTS
              if imp.in_function and imp.target.split(".")[0] not in LAZY_ALLOWED]
    assert hidden == []


@pytest.mark.parametrize("top", ALL_CODE)
def test_no_private_module_of_a_library(top: str) -> None:
    private = []
    for path in files(top):
        for imp in imports_of(path):
            first = imp.target.split(".")[0]
            if first in OURS or first in ("tests", "bench", "tools", "deploy") or not imp.target:
                continue
            if any(part.startswith("_") and part != "__future__" for part in imp.target.split(".")):
                private.append(f"{imp.module}:{imp.line} imports {imp.target}")
    assert private == []
