"""How the package hangs together: no import cycles, the façade imported by nobody inside, tasks that never
import tasks, and every task declaring its facts (toolkit/tasks/__init__.py says what they are)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from conftest import ROOT
from toolkit.tasks import FUNCTIONS, HOOKS, TASKS, TaskFacts, get_task

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
    modules = {f"toolkit.tasks.{name}" for name in TASKS}
    for name, targets in imports().items():
        if name.startswith("toolkit.tasks."):
            tasks = targets & modules
            assert not tasks, f"{name} imports {tasks}: move what they share to a family module ({SHARED_BY_TASKS})"


# The layers that run training; data/ and metrics/ sit below them and never reach up.
RUNS_TRAINING = ("toolkit.api", "toolkit.cli", "toolkit.training", "toolkit.run", "toolkit.pipeline",
                 "toolkit.evaluation", "toolkit.report", "toolkit.trainer_args", "toolkit.tasks")
DATA_READS_WITH = {"toolkit.errors", "toolkit.recipe", "toolkit.schema"}  # data/ knows recipes, not models or runs


def test_data_and_metrics_import_only_downward():
    for name, targets in imports().items():
        if name.startswith(("toolkit.data.", "toolkit.metrics.")):
            upward = {t for t in targets if any(t == layer or t.startswith(layer + ".") for layer in RUNS_TRAINING)}
            assert not upward, f"{name} imports {upward}, a layer above it"
        if name.startswith("toolkit.data."):
            outside = {t for t in targets if not t.startswith("toolkit.data")} - DATA_READS_WITH
            assert not outside, f"{name} imports {outside}: data/ reads data, with only {sorted(DATA_READS_WITH)}"


@pytest.mark.parametrize("name", TASKS)
def test_every_task_keeps_the_interface(name):
    """Its facts in one TaskFacts, its steps as functions, and nothing else under the name of a hook: a module
    that imports a helper under a hook's name (e.g. streaming's `examples`) would be called as that hook."""
    import inspect

    task = get_task(name, "test")
    assert isinstance(getattr(task, "FACTS", None), TaskFacts), f"{name}.FACTS must be a TaskFacts"
    assert task.FACTS.metrics and all(isinstance(metric, str) for metric in task.FACTS.metrics)
    for function in FUNCTIONS:
        assert callable(getattr(task, function, None)), f"{name}.{function} is missing"
    for hook in (hook for hook in HOOKS if hasattr(task, hook)):
        module = inspect.getmodule(getattr(task, hook)).__name__
        assert module == task.__name__ or module in SHARED_BY_TASKS, f"{name}.{hook} comes from {module}"
    loose = {fact.name.upper() for fact in dataclasses.fields(TaskFacts)} & set(vars(task))
    assert not loose, f"{name}: {loose} belong in FACTS"


SHARED_BY_TASKS = {"toolkit.tasks.language_models", "toolkit.tasks.preferences"}  # the families' shared steps


# Names another module may spell for its own reasons, not as a run-folder file.
NOT_RUN_FILES = {("toolkit.data.files", "README.md"): "a data folder's dataset card, which the Hub reads"}


def test_only_the_run_folder_spells_its_file_names():
    """One owner of the run folder's files: a module that writes or reads one asks toolkit.run_folder for
    its name, so renaming a file is one edit and a reader finds every file of a run in one place."""
    from toolkit.run_folder import NAMED_FILES

    names = set(NAMED_FILES)
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        if module == "toolkit.run_folder":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            # A plot or a per-example file named in place: the run folder names them (plot_file, examples_file).
            spelt = [name for name in names if text == name or text.endswith("/" + name)]
            if text.endswith(".png") or (text.startswith("examples_") and text.endswith(".jsonl")):
                spelt.append(text)
            found += [f"{module}:{node.lineno}: {name!r}" for name in spelt
                      if (module, name) not in NOT_RUN_FILES]
    assert not found, "run-folder file names spelt outside toolkit/run_folder.py:\n" + "\n".join(found)


def writes_to_training(node: ast.AST) -> bool:
    """An assignment to `<x>.training` or `<x>.training[...]`, or a mutating call on `<x>.training`."""
    def is_training(target):
        return isinstance(target, ast.Attribute) and target.attr == "training"

    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(is_training(t) or (isinstance(t, ast.Subscript) and is_training(t.value)) for t in targets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return is_training(node.func.value) and node.func.attr in {"update", "pop", "setdefault", "clear", "popitem"}
    return False


def test_no_code_writes_into_a_loaded_recipes_training_block():
    """Decisions are passed down as values (the run folder's plan, the trainer config), never written back into
    the recipe: a recipe reads the same after a run as when it was loaded. Only the loader builds it."""
    found = [f"{module_name(path)}:{node.lineno}" for path in PACKAGE.rglob("*.py")
             if module_name(path) != "toolkit.recipe"
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if writes_to_training(node)]
    assert not found, f"writes into recipe.training after loading: {found}"


def test_every_command_is_dispatched_from_the_table():
    from toolkit.cli import COMMANDS, build_parser

    subparsers = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    assert set(subparsers.choices) - {"recipes"} == set(COMMANDS)
