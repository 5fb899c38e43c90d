"""Odds-ratio preference optimisation (TRL's ORPOTrainer, in trl.experimental): supervised fine-tuning and
preference learning in one loss, with no reference model, so it can start from a base model without an SFT
stage. Paired data as for DPO; `training.beta` weighs the odds-ratio term against the SFT loss (lambda in
the paper).

Reports, before and after, the reward accuracy (chosen above rejected), the margin and the log odds ratio on
held-out pairs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from datasets import DatasetDict
from trl.data_utils import maybe_apply_chat_template, maybe_extract_prompt

from toolkit.tasks.preferences import load_policy, pair_plots, pair_summary, prepare_pairs
from toolkit.metrics.preference import orpo_metrics
from toolkit.recipe import Recipe
from toolkit.trainer_args import optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import Outcome
from toolkit.tasks import TaskFacts

with warnings.catch_warnings():  # TRL warns on import that experimental APIs may change; the docs say so
    warnings.simplefilter("ignore")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

FACTS = TaskFacts(
    config_class=ORPOConfig, method="odds-ratio preference optimisation (TRL ORPOTrainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation",
    metrics=("accuracy", "margin", "log_odds_ratio", "nll_loss"),
    defaults={"eval_strategy": "epoch", "remove_unused_columns": False},  # its collator needs them
    answers=True, loss_title="ORPO loss")


@dataclass
class Prepared:
    recipe: Recipe
    args: ORPOConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    shape: str


def prepare(recipe: Recipe) -> Prepared:
    args, splits, shape, tokenizer = prepare_pairs(recipe, FACTS.config_class, FACTS.defaults)
    model, _ = load_policy(recipe, tokenizer, reference=False)
    return Prepared(recipe, args, splits, tokenizer, model, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape, "reference": "none (ORPO)",
            "beta": prepared.args.beta,
            "splits": {name: {"pairs": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> ORPOTrainer:
    # TRL's ORPOTrainer takes one evaluation dataset (a dict of splits fails inside it): validation is the
    # one evaluated during training; the test split is tokenized for the final metrics by tokenized_split.
    return ORPOTrainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                       eval_dataset=prepared.splits.get("validation"), processing_class=prepared.tokenizer)


def tokenized_split(trainer: ORPOTrainer, prepared: Prepared, name: str):
    """A held-out split as ORPOTrainer tokenizes its evaluation dataset (the same three steps, TRL's own)."""
    if name == "validation" and trainer.eval_dataset is not None:
        return trainer.eval_dataset
    split = prepared.splits[name].map(maybe_extract_prompt)
    split = split.map(maybe_apply_chat_template, fn_kwargs={"processing_class": prepared.tokenizer})
    return split.map(trainer.tokenize_row)


def measure(trainer: ORPOTrainer, prepared: Prepared, name: str) -> dict:
    return orpo_metrics(trainer, tokenized_split(trainer, prepared, name))


def outputs(outcome: Outcome) -> dict:
    return pair_plots(outcome, ["rewards/accuracies", "rewards/margins"], "rewards", "ORPO rewards")


def summary(outcome: Outcome) -> list[str]:
    return pair_summary(outcome, "reward accuracy")
