"""Direct preference optimisation (TRL DPOTrainer): the policy learns from preference pairs directly, held
near a frozen reference by beta. The reference is the starting model: a frozen copy for full fine-tuning,
or the same weights with the LoRA adapter switched off (no second copy in memory). `training.loss_type`
takes TRL's names (sigmoid, ipo, hinge, robust, ...).

Reports, before and after, the implicit reward accuracy (chosen above rejected) and margin on held-out pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datasets import Dataset, DatasetDict
from trl import DPOConfig, DPOTrainer

from toolkit.tasks.preferences import load_policy, pair_plots, pair_summary, prepare_pairs
from toolkit.metrics.preference import dpo_metrics
from toolkit.recipe import Recipe
from toolkit.trainer_args import optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import Outcome, eval_datasets, evaluated_splits
from toolkit.tasks import TaskFacts
from toolkit.data.streaming import PEEK, head, is_stream
from toolkit.data.streaming import examples as examples_in
from toolkit.data.splits import carved_by_split
from toolkit.trained_view import TrainedExample, nothing_to_learn, pair_examples

FACTS = TaskFacts(
    config_class=DPOConfig, method="direct preference optimisation (TRL DPOTrainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation", metrics=("accuracy", "margin"),
    defaults={"eval_strategy": "epoch"}, fused_lm_head=True, evaluates_against_start=True, answers=True,
    loss_title="DPO loss")


@dataclass
class Prepared:
    recipe: Recipe
    args: DPOConfig
    splits: DatasetDict
    tokenizer: object
    model: object
    reference: object | None  # None with LoRA: the adapter switched off is the reference
    shape: str
    warnings: list = field(default_factory=list)  # e.g. a few pairs with no token of loss


def prepare(recipe: Recipe) -> Prepared:
    args, splits, shape, tokenizer = prepare_pairs(recipe, FACTS.config_class, FACTS.defaults)
    warnings = [warning for name, split in splits.items()
                if (warning := nothing_to_learn(pairs_seen(split, name, args, tokenizer), f"{recipe.source}: data",
                                                name, LOSS_FIX, carved_by_split(recipe, name)))]
    model, reference = load_policy(recipe, tokenizer)
    return Prepared(recipe, args, splits, tokenizer, model, reference, shape, warnings)


LOSS_FIX = "Raise data.max_length (or training.max_length) or shorten those prompts."


def pairs_seen(split, name: str, args, tokenizer, count: int | None = None) -> list[TrainedExample]:
    """Pairs as DPOTrainer will see them (all, or the first `count`; a stream's first rows)."""
    rows = Dataset.from_list(head(split, count or PEEK)) if is_stream(split) else (
        split.select(range(min(count, len(split)))) if count else split)
    return pair_examples(rows, name, args, tokenizer, DPOTrainer)


def examples(prepared: Prepared, count: int) -> list[TrainedExample]:
    """The first `count` training pairs as the trainer will see them (toolkit check --show)."""
    return pairs_seen(prepared.splits["train"], "train", prepared.args, prepared.tokenizer, count)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, examples_in(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "pairs": prepared.shape,
            "reference": "adapter disabled (LoRA)" if prepared.reference is None else "frozen copy of the start",
            "loss_type": prepared.args.loss_type, "beta": prepared.args.beta,
            "splits": {name: {"pairs": examples_in(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir),
            **({"warnings": prepared.warnings} if prepared.warnings else {})}


def build_trainer(prepared: Prepared) -> DPOTrainer:
    return DPOTrainer(model=prepared.model, ref_model=prepared.reference, args=prepared.args,
                      train_dataset=prepared.splits["train"], eval_dataset=eval_datasets(prepared.splits),
                      processing_class=prepared.tokenizer)


def measure(trainer, prepared: Prepared, name: str) -> dict:
    return dpo_metrics(trainer, evaluated_splits(trainer)[name], len(prepared.splits[name]))


def outputs(outcome: Outcome) -> dict:
    return pair_plots(outcome, ["rewards/accuracies", "rewards/margins"], "rewards", "DPO implicit rewards")


def summary(outcome: Outcome) -> list[str]:
    return pair_summary(outcome, "reward accuracy")
