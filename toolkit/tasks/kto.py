"""Kahneman-Tversky optimisation (TRL KTOTrainer): the policy learns from replies marked desirable or
undesirable one at a time, so the data need not be paired (prompt + completion + true/false label); paired
data (chosen/rejected) is accepted too and split into one desirable and one undesirable row each. The
reference is handled as for DPO: a frozen copy of the start, or with LoRA the start itself beside the
adapter. `training.loss_type` takes TRL's names (kto, apo_zero_unpaired); desirable_weight and
undesirable_weight rebalance uneven data.

Reports, before and after, the implicit reward margin (desirable - undesirable) and the KL estimate on
held-out rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import DatasetDict
from trl import KTOConfig, KTOTrainer
from trl.data_utils import unpair_preference_dataset

from toolkit.errors import ToolkitError
from toolkit.tasks.preferences import load_policy, pair_plots, pair_summary, prepare_pairs
from toolkit.metrics.preference import kto_metrics
from toolkit.recipe import Recipe
from toolkit.trainer_args import optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import Outcome, eval_datasets, evaluated_splits
from toolkit.tasks import TaskFacts

FACTS = TaskFacts(
    config_class=KTOConfig, method="Kahneman-Tversky optimisation (TRL KTOTrainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation", metrics=("margin",),
    defaults={"eval_strategy": "epoch"}, fused_lm_head=True, evaluates_against_start=True, answers=True,
    loss_title="KTO loss")


@dataclass
class Prepared:
    recipe: Recipe
    args: KTOConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    reference: object | None
    shape: str


def check_batch(args: KTOConfig, where: str) -> None:
    # KTO estimates its KL term from the other replies in the same batch: a batch of one has none.
    if args.loss_type != "apo_zero_unpaired" and args.per_device_train_batch_size < 2:
        raise ToolkitError(f"{where}: training: per_device_train_batch_size must be at least 2 for KTO (its KL "
                           f"term compares each reply with the others in its batch); it is "
                           f"{args.per_device_train_batch_size}.")


def unpair(splits: DatasetDict, seed: int) -> DatasetDict:
    """Pairs become one desirable and one undesirable row each, shuffled: KTO reads its training rows in
    order (its KL term needs that), and TRL's own unpairing puts a block of chosen rows before the rejected."""
    unpaired = DatasetDict({name: unpair_preference_dataset(split) for name, split in splits.items()})
    unpaired["train"] = unpaired["train"].shuffle(seed=seed)
    return unpaired


def prepare(recipe: Recipe) -> Prepared:
    args, splits, shape, tokenizer = prepare_pairs(recipe, FACTS.config_class, FACTS.defaults, unpaired=True,
                                                   check_args=check_batch)
    if shape != "unpaired":
        splits = unpair(splits, args.seed)
    model, reference = load_policy(recipe, tokenizer)
    return Prepared(recipe, args, splits, tokenizer, model, reference, shape)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "data": prepared.shape,
            "reference": "adapter disabled (LoRA)" if prepared.reference is None else "frozen copy of the start",
            "loss_type": prepared.args.loss_type, "beta": prepared.args.beta,
            "splits": {name: {"rows": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> KTOTrainer:
    return KTOTrainer(model=prepared.model, ref_model=prepared.reference, args=prepared.args,
                      train_dataset=prepared.splits["train"], eval_dataset=eval_datasets(prepared.splits),
                      processing_class=prepared.tokenizer)


def measure(trainer, prepared: Prepared, name: str) -> dict:
    return kto_metrics(trainer, evaluated_splits(trainer)[name], len(prepared.splits[name]))


def outputs(outcome: Outcome) -> dict:
    return pair_plots(outcome, ["rewards/margins", "kl"], "rewards", "KTO implicit rewards")


def summary(outcome: Outcome) -> list[str]:
    return pair_summary(outcome, "")
