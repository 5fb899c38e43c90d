"""Direct preference optimisation (TRL DPOTrainer): the policy learns from preference pairs directly, held
near a frozen reference by beta. The reference is the starting model: a frozen copy for full fine-tuning,
or the same weights with the LoRA adapter switched off (no second copy in memory). `training.loss_type`
takes TRL's names (sigmoid, ipo, hinge, robust, ...).

Reports, before and after, the implicit reward accuracy (chosen above rejected) and margin on held-out pairs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from datasets import DatasetDict
from transformers import AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer

from toolkit.models import set_generation_tokens, apply_lora, load_model
from toolkit.preferences import PairReport, prepare_pairs, train_on_pairs
from toolkit.recipe import Recipe
from toolkit.run import (TrainResult, announce, clear_output_dir, eval_datasets, evaluate_logged,
                         model_facts, optimizer_steps)

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
    where = recipe.source
    args, splits, shape, tokenizer = prepare_pairs(recipe, CONFIG_CLASS, DEFAULTS)
    model = load_model(AutoModelForCausalLM, recipe.model, tokenizer, f"{where}: model")
    set_generation_tokens(model, tokenizer)
    if recipe.peft:
        model, reference = apply_lora(model, recipe.peft, "CAUSAL_LM", where), None
    else:
        # An explicit frozen copy: TRL would otherwise reload the reference from the config's path, which a
        # model built from a config (or given new tokens) does not have.
        reference = copy.deepcopy(model).eval().requires_grad_(False)
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


def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    announce(describe(prepared))
    return train_on_pairs(recipe, build_trainer(prepared), prepared.tokenizer, REPORT, started)
