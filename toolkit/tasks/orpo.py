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

from toolkit.preferences import PairReport, evaluate_pairs, load_policy, prepare_pairs, train_pair_task
from toolkit.preference_metrics import orpo_metrics
from toolkit.recipe import Recipe
from toolkit.trainer_args import optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import TrainResult

with warnings.catch_warnings():  # TRL warns on import that experimental APIs may change; the docs say so
    warnings.simplefilter("ignore")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

CONFIG_CLASS = ORPOConfig
METHOD = "odds-ratio preference optimisation (TRL ORPOTrainer)"
AUTO_CLASS = "AutoModelForCausalLM"
PIPELINE_TAG = "text-generation"
USES_TRL = True
FUSED_LM_HEAD = False
EVALUATES_AGAINST_START = False
METRICS = ("accuracy", "margin", "log_odds_ratio", "nll_loss")
DEFAULTS = {"eval_strategy": "epoch", "remove_unused_columns": False}  # its collator needs them


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


REPORT = PairReport(measure=measure, plot_keys=["rewards/accuracies", "rewards/margins"], plot_name="rewards",
                    plot_title="ORPO rewards", loss_title="ORPO loss", accuracy_label="reward accuracy")


def evaluate(prepared: Prepared, names: list[str]) -> dict:
    """Held-out reward accuracy, margin and log odds ratio of a saved policy (toolkit eval)."""
    return evaluate_pairs(prepared, build_trainer, REPORT, names)


def train(recipe: Recipe) -> TrainResult:
    return train_pair_task(recipe, prepare, describe, build_trainer, REPORT)
