"""Causal language modelling (GPT-2): from scratch (architecture + config + a trained BPE tokenizer) or
continued pretraining of a loaded checkpoint. Documents are joined with EOS and cut into blocks
(toolkit.language_models). Reports eval loss and perplexity, and samples continuations of eval.prompts at
each evaluation."""

from __future__ import annotations

import time

from transformers import DataCollatorForLanguageModeling, TrainingArguments

from toolkit.language_models import (Prepared, cleaning_metrics, describe_lm, evaluate_lm, prepare_lm, run_lm,
                                     write_outputs)
from toolkit.recipe import Recipe
from toolkit.run import TrainResult
from toolkit.run_folder import check_output_dir, clear_output_dir

CONFIG_CLASS = TrainingArguments
DEFAULTS = {"eval_strategy": "epoch"}
METHOD = "causal language modelling from raw text (transformers Trainer)"
AUTO_CLASS = "AutoModelForCausalLM"
PIPELINE_TAG = "text-generation"
USES_TRL = False
FUSED_LM_HEAD = False
EVALUATES_AGAINST_START = False
SEPARATOR = "eos"  # what ends each document in the joined stream of blocks
METRICS = ("loss", "perplexity")



def prepare(recipe: Recipe) -> Prepared:
    from transformers import AutoModelForCausalLM

    return prepare_lm(recipe, CONFIG_CLASS, DEFAULTS, AutoModelForCausalLM, separator=SEPARATOR)


def describe(prepared: Prepared) -> dict:
    return describe_lm(prepared)


def evaluate(prepared: Prepared, names: list[str]) -> dict:
    return evaluate_lm(prepared, names)


def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    plan = check_output_dir(recipe)  # before anything loads; prepare only reads
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    collator = DataCollatorForLanguageModeling(prepared.tokenizer, mlm=False)
    trainer, before, after, callback = run_lm(recipe, prepared, collator, checkpoint=plan.checkpoint)
    return write_outputs(recipe, prepared, trainer, before, after, callback, started, "Causal LM loss",
                         extra_metrics=cleaning_metrics(prepared))
