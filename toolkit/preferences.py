"""Preference pairs for reward models and DPO, in the shapes public preference sets use:

- `chosen` + `rejected` (the prompt implicit in both), or `prompt` + `chosen` + `rejected`;
- `instruction` (+ `input`) + `chosen` + `rejected`, the usual preference JSON, made into prompt + replies;
- conversational values (lists of {role, content} turns) pass through as they are.

A model with a chat template gets the pairs as conversations (prompt = a user turn, replies = assistant
turns) so TRL formats them with the template; otherwise as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

import transformers
from datasets import DatasetDict

from toolkit.chat import alpaca_to_messages, ensure_chat_template
from toolkit.data import finish_splits, read_splits, require_columns, require_values, strings_in
from toolkit.errors import ToolkitError
from toolkit.plots import plot_loss, plot_metrics
from toolkit.models import load_tokenizer
from toolkit.recipe import Recipe, TokenizerSpec
from toolkit.run import (TrainResult, build_training_args, check_output_dir, evaluate_logged,
                         evaluate_only_with_validation, evaluated_splits, finish_run, save_model, say, train_loss)


def detect(columns: list[str], where: str) -> str:
    if "chosen" in columns and "rejected" in columns:
        if "prompt" in columns:
            return "explicit"
        return "instruction" if "instruction" in columns else "implicit"
    raise ToolkitError(f"{where}: preference data needs 'chosen' and 'rejected' columns (with 'prompt', or "
                       f"'instruction' and optional 'input'). Columns here: {', '.join(columns)}.")


def load_pairs(recipe: Recipe, conversational: bool) -> tuple[DatasetDict, str]:
    """Read, check and convert the recipe's preference data; returns the splits and the shape found."""
    where = f"{recipe.source}: data"
    splits = read_splits(recipe)
    shape = detect(splits["train"].column_names, where)
    needed = {"explicit": ("prompt", "chosen", "rejected"), "instruction": ("instruction", "chosen", "rejected"),
              "implicit": ("chosen", "rejected")}[shape]
    require_columns(splits, {f"{c} column": c for c in needed}, where)
    require_values(splits, needed, where)

    def convert(row):
        prompt = row.get("prompt")
        if shape == "instruction":
            prompt = alpaca_to_messages(row["instruction"], row.get("input"), None)[0]["content"]
        out = {"chosen": row["chosen"], "rejected": row["rejected"]}
        if prompt is not None:
            out["prompt"] = prompt
        if not conversational and isinstance(out.get("prompt"), str) and not out["prompt"][-1:].isspace():
            out["prompt"] += "\n"  # TRL joins prompt and reply as they are: keep them apart
        if conversational:
            if isinstance(out.get("prompt"), str):
                out["prompt"] = [{"role": "user", "content": out["prompt"]}]
            for key in ("chosen", "rejected"):
                if isinstance(out[key], str):
                    out[key] = [{"role": "assistant", "content": out[key]}]
        return out

    keep = ["prompt", "chosen", "rejected"] if shape != "implicit" else ["chosen", "rejected"]
    converted = DatasetDict({name: split.map(convert, remove_columns=split.column_names).select_columns(keep)
                             for name, split in splits.items()})
    return finish_splits(converted, recipe), shape


def prepare_pairs(recipe: Recipe, config_class, defaults: dict):
    """What reward and DPO share up to the model: the checked config, the output folder, the pairs and the
    tokenizer. The tokenizer comes first when it exists, since its chat template decides the pairs' form."""
    where = recipe.source
    args = build_training_args(recipe, config_class, {**defaults, "max_length": recipe.data.max_length})
    check_output_dir(recipe)
    if isinstance(recipe.model.tokenizer, TokenizerSpec):
        splits, shape = load_pairs(recipe, conversational=False)
        tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=strings_in(splits["train"]))
    else:
        tokenizer = load_tokenizer(recipe.model, f"{where}: model")
        splits, shape = load_pairs(recipe, conversational=bool(tokenizer.chat_template))
    if isinstance(splits["train"][0]["chosen"], list):
        ensure_chat_template(tokenizer)  # conversations given as such need a template, ChatML by default
    evaluate_only_with_validation(args, splits, recipe)
    transformers.set_seed(args.seed)
    return args, splits, shape, tokenizer


@dataclass
class PairReport:
    """How a preference task reports: the trainer's logged keys it reads back, and what it plots."""

    keys: dict[str, str]  # our name -> the key the trainer logs (accuracy and margin at least)
    plot_keys: list[str]
    plot_name: str
    plot_title: str
    loss_title: str
    accuracy_label: str


def train_on_pairs(recipe: Recipe, trainer, tokenizer, report: PairReport, started: float) -> TrainResult:
    """Evaluate the held-out pairs, train, evaluate again, save, plot, and say what changed."""
    splits = evaluated_splits(trainer)
    before = {name: evaluate_logged(trainer, split, name, report.keys) for name, split in splits.items()}
    trainer.train()
    after = {name: evaluate_logged(trainer, split, name, report.keys) for name, split in splits.items()
             if name in recipe.eval.splits}
    output_dir = recipe.output_dir
    save_model(trainer, tokenizer, output_dir)
    artifacts = {}
    if trainer.is_world_process_zero():
        history = trainer.state.log_history
        if plot_loss(history, output_dir / "loss_curve.png", report.loss_title):
            artifacts["loss_curve"] = output_dir / "loss_curve.png"
        if plot_metrics(history, report.plot_keys, output_dir / f"{report.plot_name}.png", report.plot_title):
            artifacts[report.plot_name] = output_dir / f"{report.plot_name}.png"
    metrics = {"train_loss": train_loss(trainer), "before": before, **after}
    result = finish_run(recipe, trainer, metrics, artifacts, started)
    for name, values in after.items():
        was = before[name]
        say(f"{name}: {report.accuracy_label} {was.get('accuracy', 0):.3f} -> {values.get('accuracy', 0):.3f}, "
            f"mean margin {was.get('margin', 0):.3f} -> {values.get('margin', 0):.3f}")
    say(f"outputs in {output_dir}/")
    return result
