"""Masked language modelling for BERT-family models: a share of tokens (mlm_probability) is hidden and
predicted. Reports eval loss and perplexity, and fill-mask predictions for eval.prompts after training."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from transformers import AutoModelForMaskedLM, Trainer, TrainingArguments

from toolkit.files import write_atomic
from toolkit.masked_lm import fill_mask_with
from toolkit.tasks.language_models import (Prepared, build_lm_trainer, cleaning_metrics, describe_lm, loss_plots,
                                     loss_summary, measure_blocks, prepare_lm)
from toolkit.progress import say
from toolkit.recipe import Recipe
from toolkit.run import Outcome
from toolkit.run_folder import FILL_MASK
from toolkit.tasks import TaskFacts


@dataclass
class MLMConfig(TrainingArguments):
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked for prediction."})


FACTS = TaskFacts(
    config_class=MLMConfig, method="masked language modelling from raw text (transformers Trainer)",
    auto_class="AutoModelForMaskedLM", pipeline_tag="fill-mask", metrics=("loss", "perplexity"),
    defaults={"eval_strategy": "epoch"}, uses_trl=False,
    separator="sep",  # what ends each document in the joined stream of blocks
    loss_title="Masked LM loss")

describe = describe_lm
measure = measure_blocks
extra_metrics = cleaning_metrics
summary = loss_summary


def prepare(recipe: Recipe) -> Prepared:
    return prepare_lm(recipe, FACTS.config_class, FACTS.defaults, AutoModelForMaskedLM, separator=FACTS.separator)


def build_trainer(prepared: Prepared) -> Trainer:
    return build_lm_trainer(prepared, mlm=True)


def outputs(outcome: Outcome) -> dict:
    """The per-example loss plots, and the trained model's fills of the eval.prompts that hold a mask."""
    artifacts = loss_plots(outcome)
    tokenizer = outcome.prepared.tokenizer
    prompts = [p for p in outcome.recipe.eval.prompts if "[MASK]" in p or tokenizer.mask_token in p]
    if prompts:
        rows = [{"text": text, "predictions": predictions} for text, predictions in
                zip(prompts, fill_mask_with(outcome.trainer.model, tokenizer, prompts), strict=True)]
        artifacts["fill_mask"] = outcome.output_dir / FILL_MASK
        write_atomic(artifacts["fill_mask"], "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        for row in rows:
            say(f"  fill-mask {row['text']!r} -> {[p['token'] for p in row['predictions']]}")
    return artifacts
