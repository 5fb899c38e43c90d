"""Reward model (TRL RewardTrainer) from preference pairs: a one-output sequence classifier on a GPT-2 or
BERT-family backbone, trained so that chosen replies score above rejected ones.

Reports pairwise accuracy (share of held-out pairs ranked right) and mean margin (chosen - rejected score)
before and after training; the saved folder scores texts (toolkit.score) and serves as an RLHF reward.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import DatasetDict
from transformers import AutoModelForSequenceClassification
from trl import RewardConfig, RewardTrainer

from toolkit.models import apply_lora, load_model
from toolkit.preferences import PairReport, evaluate_pairs, prepare_pairs, train_pair_task
from toolkit.recipe import Recipe
from toolkit.run import TrainResult, eval_datasets, model_facts, optimizer_steps

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


def prepare(recipe: Recipe) -> Prepared:
    where = recipe.source
    args, splits, shape, tokenizer = prepare_pairs(recipe, CONFIG_CLASS, DEFAULTS)
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


def build_trainer(prepared: Prepared) -> RewardTrainer:
    return RewardTrainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                         eval_dataset=eval_datasets(prepared.splits), processing_class=prepared.tokenizer)


REPORT = PairReport(keys={"accuracy": "accuracy", "margin": "margin"}, plot_keys=["accuracy", "margin"],
                    plot_name="pairs", plot_title="Reward model on preference pairs",
                    loss_title="Reward model loss", accuracy_label="pairwise accuracy")


def evaluate(prepared: Prepared, names: list[str]) -> dict:
    """Pairwise accuracy and margin of a saved reward model (toolkit eval)."""
    return evaluate_pairs(build_trainer(prepared), REPORT, names)


def train(recipe: Recipe) -> TrainResult:
    return train_pair_task(recipe, prepare, describe, build_trainer, REPORT)
