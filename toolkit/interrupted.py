"""Ctrl-C during a run: the folder is unlocked as for any failure (toolkit.run_folder.failing_cleanly), and what
reaches the user is where the run stands and how to go on, instead of the traceback of wherever training was."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from toolkit.recipe import Recipe
from toolkit.run_folder import checkpoints, last_checkpoint


class Interrupted(KeyboardInterrupt):
    """The KeyboardInterrupt that stopped a run, with what continues it. `flag`: what `toolkit train` needs to go on
    ("--resume" from `checkpoint`, "--overwrite" to start over past a broken one, or "" to start again);
    `recipe`: the recipe file of the run (a pipeline's stage, for a pipeline)."""

    def __init__(self, recipe: Recipe, pipeline: bool = False):
        self.recipe, self.pipeline = recipe.source, pipeline
        self.checkpoint = last_checkpoint(recipe.output_dir)
        self.flag = "--resume" if self.checkpoint else "--overwrite" if checkpoints(recipe.output_dir) else ""
        if self.checkpoint:
            how = (f"{recipe.output_dir} keeps {Path(self.checkpoint).name}; continue from it with resume: true "
                   f"(CLI: --resume)")
        else:
            how = ("no checkpoint was saved (every training.save_steps steps); start again"
                   + (" with overwrite: true (CLI: --overwrite)" if self.flag else ""))
        super().__init__(f"interrupted: {how}.")


@contextmanager
def continuable(recipe: Recipe, pipeline: bool = False):
    """Around a run: a KeyboardInterrupt becomes an Interrupted that says how to continue the run."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt as stop:
        raise Interrupted(recipe, pipeline) from stop
