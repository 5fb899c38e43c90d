"""Odds-ratio preference optimisation (TRL's ORPOTrainer, in trl.experimental): supervised fine-tuning and
preference learning in one loss, with no reference model, so it can start from a base model without an SFT
stage. Paired data as for DPO; `training.beta` weighs the odds-ratio term against the SFT loss (lambda in
the paper).

Reports, before and after, the reward accuracy (chosen above rejected), the margin and the log odds ratio on
held-out pairs.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

from datasets import DatasetDict

from toolkit.preferences import PairReport, load_policy, prepare_pairs, train_on_pairs
from toolkit.recipe import Recipe
from toolkit.outputs import clear_output_dir
from toolkit.run import (TrainResult, announce, eval_datasets, evaluate_logged, evaluated_splits, model_facts,
                         optimizer_steps)

with warnings.catch_warnings():  # TRL warns on import that experimental APIs may change; the docs say so
    warnings.simplefilter("ignore")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

CONFIG_CLASS = ORPOConfig
DEFAULTS = {"eval_strategy": "epoch", "remove_unused_columns": False}  # its collator needs them
REPORTED = {"accuracy": "rewards/accuracies", "margin": "rewards/margins", "log_odds_ratio": "log_odds_ratio",
            "nll_loss": "nll_loss"}


@dataclass
class Prepared:
    recipe: Recipe
    args: ORPOConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    shape: str


def prepare(recipe: Recipe) -> Prepared:
    args, splits, shape, tokenizer = prepare_pairs(recipe, CONFIG_CLASS, DEFAULTS)
    model, _ = load_policy(recipe, tokenizer, reference=False)
    return Prepared(recipe, args, splits, tokenizer, model, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape, "reference": "none (ORPO)",
            "beta": prepared.args.beta,
            "splits": {name: {"pairs": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> ORPOTrainer:
    return ORPOTrainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                       eval_dataset=eval_datasets(prepared.splits), processing_class=prepared.tokenizer)


REPORT = PairReport(keys=REPORTED, plot_keys=["rewards/accuracies", "rewards/margins"], plot_name="rewards",
                    plot_title="ORPO rewards", loss_title="ORPO loss", accuracy_label="reward accuracy")


def preference_metrics(trainer: ORPOTrainer, dataset, name: str) -> dict:
    return evaluate_logged(trainer, dataset, name, REPORTED)


def evaluate(prepared: Prepared, names: list[str]) -> dict:
    """Held-out implicit rewards of a saved policy against its reference (toolkit eval)."""
    trainer = build_trainer(prepared)
    splits = evaluated_splits(trainer)
    return {name: preference_metrics(trainer, splits[name], name) for name in names}

def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    announce(describe(prepared))
    return train_on_pairs(recipe, build_trainer(prepared), prepared.tokenizer, REPORT, started)
