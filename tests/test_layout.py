"""How the package hangs together: no import cycles, the façade imported by nobody inside, tasks that never
import tasks, and every task declaring its facts (toolkit/tasks/__init__.py says what they are)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT
from toolkit.tasks import FACTS, FUNCTIONS, TASKS, get_task

PACKAGE = ROOT / "toolkit"
FRONT_ENDS = {"toolkit", "toolkit.cli", "toolkit.__main__"}  # what may import the façade (toolkit.api)


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Every toolkit module and the toolkit modules it imports, at the top or inside a function."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
                targets |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def test_no_import_cycles():
    graph = imports()
    done, path = set(), []

    def visit(name: str) -> None:
        if name in path:
            cycle = path[path.index(name):] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            if target != "toolkit":  # the package's __init__ re-exports; importing it is importing the façade
                visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_facade_is_imported_by_front_ends_only():
    importers = {name for name, targets in imports().items() if "toolkit.api" in targets}
    assert importers <= FRONT_ENDS, importers - FRONT_ENDS


def test_tasks_never_import_tasks():
    for name, targets in imports().items():
        if name.startswith("toolkit.tasks."):
            tasks = {target for target in targets if target.startswith("toolkit.tasks.")}
            assert not tasks, f"{name} imports {tasks}: move what they share to a shared module"


@pytest.mark.parametrize("name", TASKS)
def test_every_task_declares_its_facts(name):
    task = get_task(name, "test")
    for fact, kind in FACTS.items():
        assert isinstance(getattr(task, fact, None), kind), f"{name}.{fact} must be a {kind.__name__}"
    assert task.METRICS and all(isinstance(metric, str) for metric in task.METRICS)
    for function in FUNCTIONS:
        assert callable(getattr(task, function, None)), f"{name}.{function} is missing"
