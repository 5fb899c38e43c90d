"""One module per task, each with `prepare`, `describe` and `train` over a Recipe."""

from __future__ import annotations

import importlib

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

TASKS = ("classification", "pretrain", "mlm", "sft", "reward", "dpo", "kto", "orpo", "rlhf")


def get_task(name: str, where: str):
    if name not in TASKS:
        raise ToolkitError(f"{where}: unknown task '{name}'{suggest(name, TASKS)}. Tasks: {', '.join(TASKS)}.")
    return importlib.import_module(f"toolkit.tasks.{name}")


def config_class(task, recipe):
    """The trainer config class a recipe's training block is checked against (rlhf: by rl.algorithm)."""
    chooser = getattr(task, "config_class_for", None)
    return chooser(recipe) if chooser else task.CONFIG_CLASS
