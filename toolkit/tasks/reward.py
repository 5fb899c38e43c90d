"""Reward model (TRL RewardTrainer) from preference pairs: a one-output sequence classifier on a GPT-2 or
BERT-family backbone, trained so that chosen replies score above rejected ones.

Reports pairwise accuracy (share of held-out pairs ranked right) and mean margin (chosen - rejected score)
before and after training; the saved folder scores texts (toolkit.score) and serves as an RLHF reward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import transformers
from datasets import DatasetDict
from transformers import AutoModelForSequenceClassification
from trl import RewardConfig, RewardTrainer

from toolkit.chat import ensure_chat_template
from toolkit.data import strings_in
from toolkit.models import apply_lora, load_model, load_tokenizer
from toolkit.plots import plot_loss, plot_metrics
from toolkit.preferences import load_pairs
from toolkit.recipe import Recipe, TokenizerSpec
from toolkit.run import (TrainResult, announce, build_training_args, check_output_dir, clear_output_dir,
                         eval_datasets, evaluate_logged, evaluated_splits, finish_run, model_facts, optimizer_steps, save_model,
                         say, train_loss)

CONFIG_CLASS = RewardConfig
DEFAULTS = {"eval_strategy": "epoch"}


@dataclass
class Prepared:
    recipe: Recipe
    args: RewardConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    shape: str


def preference_model_inputs(recipe: Recipe, where: str):
    """Tokenizer first when it exists (its chat template decides the data's form), then the pairs."""
    if isinstance(recipe.model.tokenizer, TokenizerSpec):
        splits, shape = load_pairs(recipe, conversational=False)
        tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=strings_in(splits["train"]))
    else:
        tokenizer = load_tokenizer(recipe.model, f"{where}: model")
        splits, shape = load_pairs(recipe, conversational=bool(tokenizer.chat_template))
    if isinstance(splits["train"][0]["chosen"], list):
        ensure_chat_template(tokenizer)  # conversations given as such need a template, ChatML by default
    return splits, shape, tokenizer


def prepare(recipe: Recipe) -> Prepared:
    where = recipe.source
    args = build_training_args(recipe, CONFIG_CLASS, {**DEFAULTS, "max_length": recipe.data.max_length})
    check_output_dir(recipe)
    splits, shape, tokenizer = preference_model_inputs(recipe, where)
    if "validation" not in splits and "eval_strategy" not in recipe.training:
        args.eval_strategy = transformers.IntervalStrategy.NO
    transformers.set_seed(args.seed)
    model = load_model(AutoModelForSequenceClassification, recipe.model, tokenizer, f"{where}: model", num_labels=1)
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "SEQ_CLS", where)
    return Prepared(recipe, args, splits, tokenizer, model, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape,
            "conversational": isinstance(prepared.splits["train"][0]["chosen"], list),
            "splits": {name: {"pairs": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def pair_metrics(trainer, dataset, name: str) -> dict:
    """Pairwise accuracy and mean margin as RewardTrainer measures them, on one held-out split."""
    return evaluate_logged(trainer, dataset, name, {"accuracy": "accuracy", "margin": "margin"})


def build_trainer(prepared: Prepared) -> RewardTrainer:
    return RewardTrainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                         eval_dataset=eval_datasets(prepared.splits), processing_class=prepared.tokenizer)


def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    announce(describe(prepared))
    trainer = build_trainer(prepared)
    splits = evaluated_splits(trainer)
    before = {name: pair_metrics(trainer, split, name) for name, split in splits.items()}
    trainer.train()
    after = {name: pair_metrics(trainer, split, name) for name, split in splits.items()
             if name in recipe.eval.splits}
    output_dir = recipe.output_dir
    save_model(trainer, prepared.tokenizer, output_dir)
    artifacts = {}
    if trainer.is_world_process_zero():
        if plot_loss(trainer.state.log_history, output_dir / "loss_curve.png", "Reward model loss"):
            artifacts["loss_curve"] = output_dir / "loss_curve.png"
        if plot_metrics(trainer.state.log_history, ["accuracy", "margin"], output_dir / "pairs.png",
                        "Reward model on preference pairs"):
            artifacts["pairs"] = output_dir / "pairs.png"
    metrics = {"train_loss": train_loss(trainer), "before": before, **after}
    result = finish_run(recipe, trainer, metrics, artifacts, started)
    for name, values in after.items():
        was = before[name]
        say(f"{name}: pairwise accuracy {was['accuracy']:.3f} -> {values['accuracy']:.3f}, "
            f"mean margin {was['margin']:.3f} -> {values['margin']:.3f}")
    say(f"outputs in {output_dir}/")
    return result
