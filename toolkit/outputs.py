"""The output folder's life: a finished run (run.json, written last) is never trained over unless the recipe
says overwrite, and even then it is only moved aside (to <output_dir>.previous) until the new run finishes;
an unfinished run's checkpoints are resumed (resume: true / --resume) or, with overwrite, cleared."""

from __future__ import annotations

import shutil
from pathlib import Path

from accelerate import PartialState

from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe

FINISHED = "run.json"  # written last: its presence means the run completed


def previous_of(output_dir: Path) -> Path:
    return output_dir.with_name(output_dir.name + ".previous")


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete checkpoint: the Trainer writes trainer_state.json after the weights, optimizer
    and RNG states, so a folder without it was cut short by a crash while saving."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    complete = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                and (p / "trainer_state.json").is_file()]
    return str(max(complete, key=lambda p: int(p.name.split("-")[-1]))) if complete else None


def check_output_dir(recipe: Recipe) -> None:
    """Refuse what would lose or mix results, before anything is loaded; resolve --resume to a checkpoint."""
    output_dir = recipe.output_dir
    finished = (output_dir / FINISHED).exists()
    checkpoint = last_checkpoint(output_dir)
    if finished and not recipe.overwrite:
        raise ToolkitError(f"{output_dir}: already holds a finished run ({FINISHED}). Choose another "
                           f"training.output_dir, or set overwrite: true (CLI: --overwrite) to replace it.")
    if recipe.resume and not recipe.overwrite:
        if checkpoint is None:
            raise ToolkitError(f"{output_dir}: nothing to resume: no checkpoint-* folder there. Checkpoints are "
                               f"written every training.save_steps steps (default 500).")
        recipe.training = {**recipe.training, "resume_from_checkpoint": checkpoint}
    elif checkpoint and not finished and not recipe.overwrite and "resume_from_checkpoint" not in recipe.training:
        raise ToolkitError(f"{output_dir}: holds checkpoints of a run that did not finish (latest: "
                           f"{Path(checkpoint).name}). Continue it with resume: true (CLI: --resume), or start "
                           f"over with overwrite: true (CLI: --overwrite).")


def clear_output_dir(recipe: Recipe) -> None:
    """Called once validation has passed. Overwriting a finished run moves it aside until the new one
    finishes; an unfinished one's checkpoints are removed so they cannot mix with the new run's."""
    state = PartialState()
    output_dir = recipe.output_dir
    if state.is_main_process and recipe.overwrite and output_dir.exists():
        if (output_dir / FINISHED).exists():
            shutil.rmtree(previous_of(output_dir), ignore_errors=True)
            output_dir.rename(previous_of(output_dir))
        else:
            shutil.rmtree(output_dir)
    state.wait_for_everyone()


def tidy_finished(recipe: Recipe) -> None:
    """Once run.json is written: the replaced run goes, and so do the checkpoints (kept for resuming only),
    unless the recipe chose its own save_strategy."""
    output_dir = recipe.output_dir
    shutil.rmtree(previous_of(output_dir), ignore_errors=True)
    if "save_strategy" not in recipe.training:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)
