"""One module per task, each with `prepare`, `describe` and `train` over a Recipe."""

from __future__ import annotations

import importlib

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

TASKS = ("classification", "pretrain", "mlm", "sft")


def get_task(name: str, where: str):
    if name not in TASKS:
        raise ToolkitError(f"{where}: unknown task '{name}'{suggest(name, TASKS)}. Tasks: {', '.join(TASKS)}.")
    return importlib.import_module(f"toolkit.tasks.{name}")
