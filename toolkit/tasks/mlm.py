"""Masked language modelling for BERT-family models: a share of tokens (mlm_probability) is hidden and
predicted. Reports eval loss and perplexity, and fill-mask predictions for eval.prompts after training."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, TrainingArguments

from toolkit.files import write_atomic
from toolkit.recipe import Recipe
from toolkit.run_folder import FILL_MASK, check_output_dir, clear_output_dir
from toolkit.progress import is_main_process, say
from toolkit.run import TrainResult
from toolkit.masked_lm import fill_mask_with
from toolkit.language_models import (Prepared, cleaning_metrics, describe_lm, evaluate_lm, prepare_lm, run_lm,
                                     write_outputs)


@dataclass
class MLMConfig(TrainingArguments):
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked for prediction."})


CONFIG_CLASS = MLMConfig
DEFAULTS = {"eval_strategy": "epoch"}
METHOD = "masked language modelling from raw text (transformers Trainer)"
AUTO_CLASS = "AutoModelForMaskedLM"
PIPELINE_TAG = "fill-mask"
USES_TRL = False
FUSED_LM_HEAD = False
EVALUATES_AGAINST_START = False
SEPARATOR = "sep"  # what ends each document in the joined stream of blocks
METRICS = ("loss", "perplexity")



def prepare(recipe: Recipe):
    return prepare_lm(recipe, CONFIG_CLASS, DEFAULTS, AutoModelForMaskedLM, separator=SEPARATOR)


def describe(prepared: Prepared) -> dict:
    return describe_lm(prepared)


def evaluate(prepared, names: list[str]) -> dict:
    return evaluate_lm(prepared, names, mlm=True)

def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    plan = check_output_dir(recipe)  # before anything loads; prepare only reads
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    collator = DataCollatorForLanguageModeling(prepared.tokenizer, mlm=True,
                                               mlm_probability=prepared.args.mlm_probability)
    trainer, before, after, _ = run_lm(recipe, prepared, collator, sample=False, checkpoint=plan.checkpoint)
    extra = {}
    prompts = [p for p in recipe.eval.prompts if "[MASK]" in p or prepared.tokenizer.mask_token in p]
    if prompts and is_main_process():
        rows = [{"text": text, "predictions": preds}
                for text, preds in zip(prompts, fill_mask_with(trainer.model, prepared.tokenizer, prompts), strict=True)]
        recipe.output_dir.mkdir(parents=True, exist_ok=True)
        extra["fill_mask"] = recipe.output_dir / FILL_MASK
        write_atomic(extra["fill_mask"], "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        for row in rows:
            say(f"  fill-mask {row['text']!r} -> {[p['token'] for p in row['predictions']]}")
    return write_outputs(recipe, prepared, trainer, before, after, None, started, "Masked LM loss", extra,
                         cleaning_metrics(prepared))
