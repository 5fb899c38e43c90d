"""Evaluate a finished run's saved model with its task's own held-out metrics: the recipe as run is loaded
again with the model pointed at the run folder, so the same data preparation and the same metric code
give the numbers `train` wrote (classification: accuracy, precision, recall, F1, confusion matrix; language
models and SFT: loss and perplexity; reward models: pairwise accuracy and margin; DPO / KTO / ORPO:
implicit-reward accuracy and margin against the starting model; RL: mean reward of each checker on greedy
completions). `data` evaluates another file instead, in the recipe's columns. The numbers come from
toolkit.training.measure, the function a run's own numbers come from."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.metrics.per_example import split_off
from toolkit.recipe import load_recipe
from toolkit.run_folder import RECIPE, check_model_files, recipe_for_evaluation


def evaluate(folder, data: str | None = None, splits: list[str] | None = None, per_example: bool = False,
             trust_remote_code: bool = False) -> dict:
    """{split: metrics} for a finished run folder; with `data`, {"data": metrics} for that file.
    per_example: keep each split's per-example rows (as the run saved them in examples_<split>.jsonl) under
    "per_example". trust_remote_code: let the saved model (and a starting model it is compared with) run code
    it ships (auto_map); whatever the run's recipe said, it is off unless asked here."""
    from toolkit.models import load_model
    from toolkit.tasks import get_task
    from toolkit.training import measure

    folder = Path(folder)
    # Trainers print their logs to stdout; here stdout carries the result, so their chatter goes to stderr.
    with tempfile.TemporaryDirectory(prefix="toolkit-eval-") as scratch, contextlib.redirect_stdout(sys.stderr):
        raw, start = recipe_for_evaluation(folder, data, scratch)
        check_model_files(folder)
        raw["model"]["trust_remote_code"] = start["trust_remote_code"] = trust_remote_code
        recipe = load_recipe({**raw, "__source__": str(folder / RECIPE)})
        task = get_task(recipe.task, recipe.source)
        prepared = task.prepare(recipe)
        if task.FACTS.evaluates_against_start:
            from transformers import AutoModelForCausalLM

            spec = load_recipe({**raw, "model": start, "__source__": str(folder / RECIPE)}).model
            prepared.reference = load_model(AutoModelForCausalLM, spec, prepared.tokenizer,
                                            f"{folder}: the starting model").eval().requires_grad_(False)
        if data:
            names, rename = ["test"], {"test": "data"}
        else:
            held_out = [name for name in ("validation", "test") if name in prepared.splits]
            names, rename = [s for s in (splits or held_out) if s in held_out], {}
            missing = [s for s in (splits or []) if s not in held_out]
            if missing:
                raise ToolkitError(f"{folder}: the run has no '{missing[0]}' split; it has {held_out or 'none'}.")
        results = measure(task, prepared, names)
    if not per_example:
        split_off(results)
    return {rename.get(name, name): values for name, values in results.items()}
