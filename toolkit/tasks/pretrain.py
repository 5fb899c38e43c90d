"""Causal language modelling (GPT-2): from scratch (architecture + config + a trained BPE tokenizer) or
continued pretraining of a loaded checkpoint. Documents are joined with EOS and cut into blocks
(toolkit.tasks.language_models). Reports eval loss and perplexity, and samples continuations of eval.prompts at
each evaluation."""

from __future__ import annotations

from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

from toolkit.tasks.language_models import (Prepared, build_lm_trainer, cleaning_metrics, describe_lm, loss_plots,
                                     loss_summary, measure_blocks, prepare_lm)
from toolkit.recipe import Recipe
from toolkit.tasks import TaskFacts

FACTS = TaskFacts(
    config_class=TrainingArguments, method="causal language modelling from raw text (transformers Trainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation", metrics=("loss", "perplexity"),
    defaults={"eval_strategy": "epoch"}, uses_trl=False,
    separator="eos",  # what ends each document in the joined stream of blocks
    samples="base", loss_title="Causal LM loss")

describe = describe_lm
measure = measure_blocks
outputs = loss_plots
extra_metrics = cleaning_metrics
summary = loss_summary


def prepare(recipe: Recipe) -> Prepared:
    return prepare_lm(recipe, FACTS.config_class, FACTS.defaults, AutoModelForCausalLM, separator=FACTS.separator)


def build_trainer(prepared: Prepared) -> Trainer:
    return build_lm_trainer(prepared, mlm=False)
