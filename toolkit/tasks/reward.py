"""Reward model (TRL RewardTrainer) from preference pairs: a one-output sequence classifier on a GPT-2 or
BERT-family backbone, trained so that chosen replies score above rejected ones.

Reports pairwise accuracy (held-out pairs whose chosen reply scores strictly higher / all pairs; ties counted
apart) and mean margin (chosen - rejected score) before and after training, from per-pair scores saved in
examples_<split>.jsonl; the saved folder scores texts (toolkit.score) and serves as an RLHF reward.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import DatasetDict
from transformers import AutoModelForSequenceClassification
from trl import RewardConfig, RewardTrainer

from toolkit.models import apply_lora, load_model
from toolkit.tasks.preferences import pair_plots, pair_summary, prepare_pairs
from toolkit.metrics.preference import reward_metrics
from toolkit.recipe import Recipe
from toolkit.reward_model import tokenize_pairs
from toolkit.trainer_args import optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import Outcome, eval_datasets
from toolkit.data.streaming import examples as examples_in
from toolkit.data.streaming import head
from toolkit.tasks import TaskFacts

FACTS = TaskFacts(
    config_class=RewardConfig, method="a reward model from preference pairs (TRL RewardTrainer)",
    auto_class="AutoModelForSequenceClassification", pipeline_tag="text-classification",
    metrics=("accuracy", "margin"), defaults={"eval_strategy": "epoch"}, loss_title="Reward model loss")


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
    args, splits, shape, tokenizer = prepare_pairs(recipe, FACTS.config_class, FACTS.defaults)
    model = load_model(AutoModelForSequenceClassification, recipe.model, tokenizer, f"{where}: model", num_labels=1)
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "SEQ_CLS", where)
    return Prepared(recipe, args, splits, tokenizer, model, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, examples_in(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape,
            "conversational": isinstance(head(prepared.splits["train"], 1)[0]["chosen"], list),
            "splits": {name: {"pairs": examples_in(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> RewardTrainer:
    # Tokenized here, by the one function `score` and RL rewards also use, so every score reads the same text
    # (TRL's own tokenization would also append an EOS that BERT-family tokenizers do not have).
    max_length = prepared.args.max_length
    splits = DatasetDict({name: tokenize_pairs(split, prepared.tokenizer, max_length)
                          for name, split in prepared.splits.items()})
    return RewardTrainer(model=prepared.model, args=prepared.args, train_dataset=splits["train"],
                         eval_dataset=eval_datasets(splits), processing_class=prepared.tokenizer)


def measure(trainer, prepared: Prepared, name: str) -> dict:
    return reward_metrics(trainer, prepared.splits[name], prepared.args.max_length)


def outputs(outcome: Outcome) -> dict:
    return pair_plots(outcome, ["accuracy", "margin"], "pairs", "Reward model on preference pairs")


def summary(outcome: Outcome) -> list[str]:
    return pair_summary(outcome, "pairwise accuracy")
