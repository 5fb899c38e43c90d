"""model.embedding_init_std (the published from-scratch start) and the warning for the start known to stall."""

from __future__ import annotations

import pytest
import torch

import toolkit
from conftest import ROOT
from toolkit.recipe import load_recipe
from toolkit.tasks import pretrain

CORPUS = str(ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl")


def recipe(tmp_path, config: dict, **model) -> dict:
    return {"task": "pretrain",
            "model": {"architecture": "gpt2", "tokenizer": {"vocab_size": 500},
                      "config": {"n_layer": 1, "n_embd": 64, "n_head": 2, "n_positions": 64, **config}, **model},
            "data": {"train": CORPUS, "split": {"validation": 0.1, "test": 0.0}, "max_length": 64},
            "training": {"output_dir": str(tmp_path / "run"), "per_device_train_batch_size": 2}}


def test_embedding_init_std_draws_every_embedding_table_and_keeps_the_head_apart(tmp_path):
    prepared = pretrain.prepare(load_recipe(recipe(tmp_path, {"tie_word_embeddings": False},
                                                   embedding_init_std=1.0)))
    model = prepared.model
    for table in (model.transformer.wte.weight, model.transformer.wpe.weight):
        assert table.std().item() == pytest.approx(1.0, abs=0.05)
    assert model.lm_head.weight is not model.transformer.wte.weight
    assert model.lm_head.weight.std().item() < 0.05  # the head keeps transformers' own init

    default = pretrain.prepare(load_recipe(recipe(tmp_path, {}))).model
    assert default.transformer.wte.weight.std().item() == pytest.approx(0.02, abs=0.005)
    assert torch.equal(default.transformer.h[0].attn.c_attn.weight, model.transformer.h[0].attn.c_attn.weight)


@pytest.mark.parametrize("model, config, says", [
    ({"embedding_init_std": 1.0}, {}, "tie_word_embeddings: false"),
    ({"embedding_init_std": 0.0}, {"tie_word_embeddings": False}, "must be positive"),
])
def test_embedding_init_std_refusals(tmp_path, model, config, says):
    with pytest.raises(toolkit.ToolkitError, match=says):
        load_recipe(recipe(tmp_path, config, **model))


def test_embedding_init_std_is_refused_for_a_checkpoint(tmp_path):
    spec = {"task": "pretrain", "model": {"name_or_path": str(tmp_path), "embedding_init_std": 1.0},
            "data": {"train": CORPUS}}
    with pytest.raises(toolkit.ToolkitError, match="built from a config"):
        load_recipe(spec)


def test_check_warns_of_the_start_known_to_stall(tmp_path):
    """A 20M+ model from config on 128 tokens per step: the measured stall's conditions (benchmarks)."""
    large = {"n_layer": 3, "n_embd": 768, "n_head": 12}
    facts = toolkit.check(recipe(tmp_path, large))
    assert facts["parameters"] > 20_000_000
    assert "unigram plateau" in facts["warnings"][0] and "embedding_init_std: 1.0" in facts["warnings"][0]
    published = toolkit.check(recipe(tmp_path, {**large, "tie_word_embeddings": False}, embedding_init_std=1.0))
    assert "warnings" not in published
    assert "warnings" not in toolkit.check(recipe(tmp_path, {}))  # a small model, as the shipped recipe builds
