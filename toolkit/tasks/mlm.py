"""Masked language modelling for BERT-family models: a share of tokens (mlm_probability) is hidden and
predicted. Reports eval loss and perplexity, and fill-mask predictions for eval.prompts after training."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, TrainingArguments

from toolkit.files import write_atomic
from toolkit.recipe import Recipe
from toolkit.outputs import clear_output_dir
from toolkit.run import (TrainResult, is_main_process, say)
from toolkit.tasks import pretrain
from toolkit.tasks.pretrain import cleaning_metrics, prepare_lm, run_lm, write_outputs
from toolkit.tasks.pretrain import evaluate as evaluate_lm


@dataclass
class MLMConfig(TrainingArguments):
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked for prediction."})


CONFIG_CLASS = MLMConfig
describe = pretrain.describe  # the same facts as pretraining
DEFAULTS = {"eval_strategy": "epoch"}


def prepare(recipe: Recipe):
    return prepare_lm(recipe, CONFIG_CLASS, DEFAULTS, AutoModelForMaskedLM, separator="sep")


def fill_mask_with(model, tokenizer, texts: list[str], top_k: int = 5) -> list[list[dict]]:
    """Top-k tokens for the first mask in each text. "[MASK]" is read as the model's own mask token."""
    from transformers import pipeline

    filler = pipeline("fill-mask", model=model, tokenizer=tokenizer, device=model.device)
    results = []
    for text in texts:
        output = filler(text.replace("[MASK]", tokenizer.mask_token), top_k=top_k)
        output = output[0] if output and isinstance(output[0], list) else output
        results.append([{"token": row["token_str"], "score": round(float(row["score"]), 4)} for row in output])
    return results


def evaluate(prepared, names: list[str]) -> dict:
    return evaluate_lm(prepared, names, mlm=True)

def train(recipe: Recipe) -> TrainResult:
    started = time.time()
    prepared = prepare(recipe)
    clear_output_dir(recipe)
    collator = DataCollatorForLanguageModeling(prepared.tokenizer, mlm=True,
                                               mlm_probability=prepared.args.mlm_probability)
    trainer, before, after, _ = run_lm(recipe, prepared, collator, sample=False)
    extra = {}
    prompts = [p for p in recipe.eval.prompts if "[MASK]" in p or prepared.tokenizer.mask_token in p]
    if prompts and is_main_process():
        rows = [{"text": text, "predictions": preds}
                for text, preds in zip(prompts, fill_mask_with(trainer.model, prepared.tokenizer, prompts), strict=True)]
        recipe.output_dir.mkdir(parents=True, exist_ok=True)
        extra["fill_mask"] = recipe.output_dir / "fill_mask.jsonl"
        write_atomic(extra["fill_mask"], "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        for row in rows:
            say(f"  fill-mask {row['text']!r} -> {[p['token'] for p in row['predictions']]}")
    return write_outputs(recipe, prepared, trainer, before, after, None, started, "Masked LM loss", extra,
                         cleaning_metrics(prepared))
