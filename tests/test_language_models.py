"""Pretraining (causal LM) and masked-LM training lower held-out loss on a small real corpus."""

from __future__ import annotations

import json
import math

import pytest

import toolkit
from conftest import ROOT, TINY_BERT, TINY_GPT2

CORPUS = str(ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl")


def lm_recipe(tmp_path, task: str, model: dict, **training) -> dict:
    return {"task": task, "model": {**model, "tokenizer": {"vocab_size": 1000}},
            "data": {"train": CORPUS, "split": {"validation": 0.1, "test": 0.0}, "max_length": 64},
            "training": {"output_dir": str(tmp_path / task), "num_train_epochs": 1, "max_steps": 60,
                         "per_device_train_batch_size": 16, "learning_rate": 3e-3, "logging_steps": 10,
                         "eval_strategy": "no", "disable_tqdm": True, "seed": 0, **training}}


def test_pretraining_lowers_validation_loss_and_samples(tmp_path):
    recipe = lm_recipe(tmp_path, "pretrain", TINY_GPT2)
    recipe["eval"] = {"prompts": ["The assert statement"], "max_new_tokens": 8}
    result = toolkit.train(recipe)
    before, after = result.metrics["before"]["validation"]["loss"], result.metrics["validation"]["loss"]
    assert after < before - 0.7, (before, after)  # 60 steps: about 6.8 (ln 1000 = 6.9) -> 5.8
    assert result.metrics["validation"]["perplexity"] == pytest.approx(math.exp(after))
    samples = [json.loads(line) for line in (result.output_dir / "samples.jsonl").read_text().splitlines()]
    assert {row["when"] for row in samples} >= {"before"} and len(samples) >= 2
    assert toolkit.generate(result.output_dir, "The assert statement", max_new_tokens=5, chat=False) is not None


def test_pretraining_with_corpus_cleaning_reports_each_step(tmp_path):
    recipe = lm_recipe(tmp_path, "pretrain", TINY_GPT2, max_steps=2)
    recipe["data"]["clean"] = {"language": ["en"], "min_language_score": 0.5}
    facts = toolkit.check(recipe)
    cleaning = facts["corpus_cleaning"]
    assert cleaning["documents_kept"] < cleaning["documents_in"]
    assert {"gopher_quality", "language", "exact_dedup", "near_dedup"} <= {s["step"] for s in cleaning["steps"]}


def test_masked_lm_lowers_validation_loss_and_fills_masks(tmp_path):
    recipe = lm_recipe(tmp_path, "mlm", TINY_BERT, mlm_probability=0.15)
    recipe["eval"] = {"prompts": ["The [MASK] statement is used to raise an exception."]}
    result = toolkit.train(recipe)
    before, after = result.metrics["before"]["validation"]["loss"], result.metrics["validation"]["loss"]
    assert after < before - 0.5, (before, after)  # 60 steps: ln(1000) = 6.9 -> about 5.9
    predictions = toolkit.fill_mask(result.output_dir, "The [MASK] statement is used.", top_k=3)
    assert len(predictions) == 3 and all(isinstance(p["token"], str) for p in predictions)
    assert (result.output_dir / "fill_mask.jsonl").is_file()
