"""Evaluate a finished run's saved model with its task's own held-out metrics: the recipe as run is loaded
again with the model pointed at the run folder, so the same data preparation and the same metric code
give the numbers `train` wrote (classification: accuracy, precision, recall, F1, confusion matrix; language
models and SFT: loss and perplexity; reward models: pairwise accuracy and margin; DPO / KTO / ORPO:
implicit-reward accuracy and margin against the starting model; RL: mean reward of each checker on greedy
completions). `data` evaluates another file instead, in the recipe's columns."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.per_example import split_off
from toolkit.recipe import load_recipe
from toolkit.report import read_run

REFERENCE_TASKS = ("dpo", "kto")  # judged against the model they started from


def run_recipe(folder: Path, data: str | None, output_dir: str) -> tuple[dict, dict]:
    """(the recipe to evaluate with, the run's starting model spec)."""
    raw = read_run(folder).recipe
    if not raw:
        raise ToolkitError(f"{folder}: no recipe.yaml; evaluation re-reads the data the way the run did.")
    start = dict(raw["model"])
    raw["model"] = {"name_or_path": str(folder), "dtype": start.get("dtype"),
                    "attn_implementation": start.get("attn_implementation")}
    raw["peft"] = None  # the saved model has any adapter merged in
    raw["training"] = {**raw.get("training", {}), "output_dir": output_dir, "report_to": "none", "eval_strategy": "no"}
    raw["overwrite"] = False
    if raw["task"] == "classification":
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        raw["data"]["labels"] = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        raw["data"]["num_labels"] = None
    if data:  # held out as 'test' (train must name a file too; it is read, not trained on)
        raw["data"].update(train=data, validation=None, test=data, name=None, limit=None,
                           split={"validation": 0.0, "test": 0.0})
        if not data.lower().endswith(".txt"):
            raw["data"]["sample_by"] = None  # how the run read its .txt files; the new file is not one
    return raw, start


def evaluate(folder, data: str | None = None, splits: list[str] | None = None, per_example: bool = False) -> dict:
    """{split: metrics} for a finished run folder; with `data`, {"data": metrics} for that file.
    per_example: keep each split's per-example rows (as the run saved them in examples_<split>.jsonl) under
    "per_example"."""
    from toolkit.models import load_model
    from toolkit.tasks import get_task

    folder = Path(folder)
    # Trainers print their logs to stdout; here stdout carries the result, so their chatter goes to stderr.
    with tempfile.TemporaryDirectory(prefix="toolkit-eval-") as scratch, contextlib.redirect_stdout(sys.stderr):
        raw, start = run_recipe(folder, data, scratch)
        recipe = load_recipe({**raw, "__source__": str(folder / "recipe.yaml")})
        task = get_task(recipe.task, recipe.source)
        prepared = task.prepare(recipe)
        if recipe.task in REFERENCE_TASKS:
            from transformers import AutoModelForCausalLM

            spec = load_recipe({**raw, "model": start, "__source__": str(folder / "recipe.yaml")}).model
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
        results = task.evaluate(prepared, names)
        reference = Path(getattr(prepared.model.config, "_name_or_path", "") or ".")
        if reference.name.startswith("toolkit-reference-"):  # RL's saved start, needed only while training
            shutil.rmtree(reference, ignore_errors=True)
    if not per_example:
        split_off(results)
    return {rename.get(name, name): values for name, values in results.items()}
