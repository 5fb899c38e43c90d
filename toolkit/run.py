"""What every task does around its trainer: training arguments, the output folder, the finished run."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import PartialState

from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe, dump_recipe
from toolkit.schema import coerce_fields

FINISHED = "run.json"  # written last: its presence means the run completed


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    artifacts: dict[str, Path] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"output_dir: {self.output_dir}"] + [f"  {name}: {path}" for name, path in self.artifacts.items()]
        return "\n".join(lines)


def is_main_process() -> bool:
    return PartialState().is_main_process


def say(*parts) -> None:
    """Progress lines from the main process only, so a multi-process run prints each line once."""
    if is_main_process():
        print(*parts, flush=True)


def default_output_dir(recipe: Recipe) -> str:
    name = Path(recipe.source).stem if recipe.source.endswith((".yaml", ".yml")) else recipe.task
    return str(Path("runs") / name)


def has_accelerator() -> bool:
    return torch.cuda.is_available() or torch.backends.mps.is_available() or (
        hasattr(torch, "xpu") and torch.xpu.is_available())


def build_training_args(recipe: Recipe, config_class, defaults: dict):
    """The trainer config from the recipe's `training` block: its own field names, checked, over our defaults.

    On a machine without an accelerator, use_cpu defaults to true: accelerate then runs a multi-process
    launch as real DDP over gloo (MULTI_CPU); without it, each process would train alone.
    """
    where = f"{recipe.source}: training"
    values = coerce_fields(recipe.training, config_class, where)
    merged = {"use_cpu": not has_accelerator(), **defaults, "output_dir": default_output_dir(recipe), **values}
    try:
        args = config_class(**merged)
        args.device  # sets up the (distributed) state now, before anything else can with other settings
    except (ValueError, TypeError) as error:
        raise ToolkitError(f"{where}: {error}") from None
    recipe.training = {**recipe.training, "output_dir": args.output_dir}
    return args


def check_output_dir(recipe: Recipe) -> None:
    """Refuse to train over a finished run unless the recipe says overwrite: true."""
    output_dir = recipe.output_dir
    if (output_dir / FINISHED).exists() and not recipe.overwrite:
        raise ToolkitError(f"{output_dir}: already holds a finished run ({FINISHED}). Choose another "
                           f"training.output_dir, or set overwrite: true (CLI: --overwrite) to replace it.")


def clear_output_dir(recipe: Recipe) -> None:
    """Called once validation has passed: an overwritten run's old files must not mix with the new ones."""
    state = PartialState()
    if state.is_main_process and recipe.overwrite and (recipe.output_dir / FINISHED).exists():
        shutil.rmtree(recipe.output_dir)
    state.wait_for_everyone()


def finish_run(recipe: Recipe, metrics: dict, artifacts: dict[str, Path], started: float,
               world_size: int) -> TrainResult:
    output_dir = recipe.output_dir
    artifacts = {"model": output_dir, **artifacts}
    if is_main_process():
        dump_recipe(recipe, output_dir / "recipe.yaml")
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        artifacts.update({"recipe": output_dir / "recipe.yaml", "metrics": output_dir / "metrics.json"})
        info = {"task": recipe.task, "source": recipe.source, "world_size": world_size,
                "seconds": round(time.time() - started, 1),
                "artifacts": {name: str(path) for name, path in artifacts.items()}}
        (output_dir / FINISHED).write_text(json.dumps(info, indent=2), encoding="utf-8")
    else:
        artifacts.update({"recipe": output_dir / "recipe.yaml", "metrics": output_dir / "metrics.json"})
    PartialState().wait_for_everyone()
    return TrainResult(output_dir=output_dir, metrics=metrics, artifacts=artifacts)
