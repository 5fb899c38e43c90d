"""Direct preference optimisation (TRL DPOTrainer): the policy learns from preference pairs directly, held
near a frozen reference by beta. The reference is the starting model: a frozen copy for full fine-tuning,
or the same weights with the LoRA adapter switched off (no second copy in memory). `training.loss_type`
takes TRL's names (sigmoid, ipo, hinge, robust, ...).

Reports, before and after, the implicit reward accuracy (chosen above rejected) and margin on held-out pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from datasets import DatasetDict
from trl import DPOConfig, DPOTrainer

from toolkit.preferences import PairReport, load_policy, prepare_pairs, train_on_pairs
from toolkit.recipe import Recipe
from toolkit.outputs import clear_output_dir
from toolkit.run import (TrainResult, announce, eval_datasets, evaluate_logged, evaluated_splits, model_facts,
                         optimizer_steps)

CONFIG_CLASS = DPOConfig
DEFAULTS = {"eval_strategy": "epoch"}
REPORTED = {"accuracy": "rewards/accuracies", "margin": "rewards/margins", "chosen": "rewards/chosen",
            "rejected": "rewards/rejected"}


@dataclass
class Prepared:
    recipe: Recipe
    args: DPOConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    reference: object | None  # None with LoRA: the adapter switched off is the reference
    shape: str


def prepare(recipe: Recipe) -> Prepared:
    args, splits, shape, tokenizer = prepare_pairs(recipe, CONFIG_CLASS, DEFAULTS)
    model, reference = load_policy(recipe, tokenizer)
    return Prepared(recipe, args, splits, tokenizer, model, reference, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape,
            "reference": "adapter disabled (LoRA)" if prepared.reference is None else "frozen copy of the start",
            "loss_type": prepared.args.loss_type, "beta": prepared.args.beta,
            "splits": {name: {"pairs": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> DPOTrainer:
    return DPOTrainer(model=prepared.model, ref_model=prepared.reference, args=prepared.args,
                      train_dataset=prepared.splits["train"], eval_dataset=eval_datasets(prepared.splits),
                      processing_class=prepared.tokenizer)


REPORT = PairReport(keys=REPORTED, plot_keys=["rewards/accuracies", "rewards/margins"], plot_name="rewards",
                    plot_title="DPO implicit rewards", loss_title="DPO loss", accuracy_label="reward accuracy")


def preference_metrics(trainer: DPOTrainer, dataset, name: str) -> dict:
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
