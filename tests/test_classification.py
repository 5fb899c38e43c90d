"""Classification learns, saves, reloads and predicts, for a BERT-family and a GPT-2 model."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification

import toolkit
from conftest import TINY_BERT, TINY_GPT2, classification_recipe, toy_rows, write_jsonl


@pytest.mark.parametrize("model", [TINY_BERT, TINY_GPT2], ids=["bert", "gpt2"])
def test_learns_and_reloads(tmp_path, model):
    result = toolkit.train(classification_recipe(tmp_path, model))

    test = result.metrics["test"]
    assert test["accuracy"] > 0.85, test  # chance is 0.5 on the balanced toy set
    assert sum(map(sum, test["confusion_matrix"])) == 160

    assert (result.output_dir / "loss_curve.png").stat().st_size > 1000
    assert (result.output_dir / "confusion_test.png").stat().st_size > 1000
    assert json.loads((result.output_dir / "metrics.json").read_text())["test"] == test

    # The saved folder alone predicts label names, and the same ones the trained model gave.
    rows = toy_rows()[:40]
    texts = [row["text"] for row in rows]
    predicted = toolkit.predict(result.output_dir, texts)
    assert {p["label"] for p in predicted} <= {"ham", "spam"}
    reloaded = AutoModelForSequenceClassification.from_pretrained(result.output_dir)
    tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(result.output_dir)
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        ids = reloaded(**batch).logits.argmax(-1).tolist()
    assert [p["label"] for p in predicted] == [reloaded.config.id2label[i] for i in ids]
    agreement = sum(p["label"] == row["label"] for p, row in zip(predicted, rows, strict=True)) / len(rows)
    assert agreement > 0.85


def test_integer_labels_and_explicit_splits(tmp_path):
    rows = [{"text": row["text"], "label": int(row["label"] == "spam")} for row in toy_rows()]
    train = write_jsonl(tmp_path / "train.jsonl", rows[:500])
    val = write_jsonl(tmp_path / "val.jsonl", rows[500:600])
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    recipe["data"] = {"train": str(train), "validation": str(val), "max_length": 48}
    result = toolkit.train(recipe)
    assert result.metrics["validation"]["accuracy"] > 0.85
    assert "test" not in result.metrics
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"}


def test_trainable_layers_freezes_all_but_the_last_block(tmp_path):
    recipe = classification_recipe(tmp_path, {**TINY_GPT2, "trainable_layers": 1}, max_steps=5)
    prepared_model = toolkit.check(recipe)
    assert 0 < prepared_model["trainable_parameters"] < prepared_model["parameters"]

    from toolkit.recipe import load_recipe
    from toolkit.tasks import classification

    prepared = classification.prepare(load_recipe(recipe))
    trainable = {name for name, p in prepared.model.named_parameters() if p.requires_grad}
    assert any(name.startswith("transformer.h.1.") for name in trainable)
    assert not any(name.startswith("transformer.h.0.") for name in trainable)
    assert "transformer.ln_f.weight" in trainable and "score.weight" in trainable
    assert "transformer.wte.weight" not in trainable


def test_lora_trains_adapters_and_saves_a_merged_model(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2, num_train_epochs=3)
    recipe["peft"] = {"r": 8, "lora_alpha": 16, "target_modules": ["c_attn"], "fan_in_fan_out": True}
    facts = toolkit.check(recipe)
    assert facts["trainable_parameters"] < facts["parameters"] / 5
    result = toolkit.train(recipe)
    assert result.metrics["test"]["accuracy"] > 0.8
    assert (result.output_dir / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForSequenceClassification.from_pretrained(result.output_dir)
    assert not any("lora" in name for name, _ in merged.named_parameters())
