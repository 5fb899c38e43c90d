"""data.streaming: train read lazily trains exactly as the same data read whole, in file order."""

from __future__ import annotations

import json

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl

CORPUS = ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl"
INSTRUCTIONS = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"
PAIRS = ROOT / "toolkit" / "assets" / "toy_preferences.jsonl"


def in_file_order(output_dir, **training) -> dict:
    """Training that reads train in file order, so a stream and the file read whole see the same batches."""
    return {"output_dir": str(output_dir), "per_device_train_batch_size": 4, "logging_steps": 1, "disable_tqdm": True,
            "seed": 0, "train_sampling_strategy": "sequential", "eval_strategy": "no", **training}


def losses(result) -> list[float]:
    history = json.loads((result.output_dir / "log_history.json").read_text())
    return [row["loss"] for row in history if "loss" in row]


def corpus_files(tmp_path) -> tuple[str, str]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return (str(write_jsonl(tmp_path / "train.jsonl", rows[:120])),
            str(write_jsonl(tmp_path / "validation.jsonl", rows[120:140])))


def pretrain_recipe(tmp_path, name: str, **data) -> dict:
    train, validation = corpus_files(tmp_path)
    return {"task": "pretrain", "model": dict(TINY_GPT2),
            "data": {"train": train, "validation": validation, "max_length": 64, **data},
            "training": in_file_order(tmp_path / name, max_steps=12, learning_rate=2e-3)}


def test_streamed_pretraining_takes_the_steps_of_the_same_text_read_whole(tmp_path):
    whole = toolkit.train(pretrain_recipe(tmp_path, "whole"))
    streamed = toolkit.train(pretrain_recipe(tmp_path, "streamed", streaming=True))
    assert losses(streamed) == pytest.approx(losses(whole), abs=1e-4) and len(losses(whole)) == 12
    assert streamed.metrics["validation"]["loss"] < streamed.metrics["before"]["validation"]["loss"] - 0.3
    assert streamed.metrics["validation"]["examples"] == whole.metrics["validation"]["examples"]


def test_check_says_the_train_split_is_streamed(tmp_path):
    facts = toolkit.check(pretrain_recipe(tmp_path, "checked", streaming=True))
    assert facts["splits"]["train"] == {"examples": "streamed", "tokens": "streamed", "documents": "streamed"}
    assert facts["splits"]["validation"]["examples"] > 0 and facts["optimizer_steps"] == 12


def sft_recipe(tmp_path, name: str, **data) -> dict:
    rows = [json.loads(line) for line in INSTRUCTIONS.read_text(encoding="utf-8").splitlines()]
    return {"task": "sft", "model": dict(TINY_GPT2),
            "data": {"train": str(write_jsonl(tmp_path / "sft_train.jsonl", rows[:32])),
                     "validation": str(write_jsonl(tmp_path / "sft_validation.jsonl", rows[32:40])),
                     "max_length": 64, **data},
            "training": in_file_order(tmp_path / name, max_steps=10, learning_rate=3e-3)}


def test_streamed_sft_takes_the_steps_of_the_same_file_read_whole(tmp_path):
    whole = toolkit.train(sft_recipe(tmp_path, "whole"))
    streamed = toolkit.train(sft_recipe(tmp_path, "streamed", streaming=True))
    assert losses(streamed) == pytest.approx(losses(whole), abs=1e-4) and len(losses(whole)) == 10
    assert streamed.metrics["validation"]["loss"] < streamed.metrics["before"]["validation"]["loss"]


@pytest.mark.parametrize("change, message", [
    ({"training.max_steps": None}, "data.streaming needs training.max_steps"),
    ({"task": "classification"}, "data.streaming applies to pretrain, mlm, sft, dpo, reward"),
    ({"data.clean": {}}, "Clean it once with `toolkit prepare-corpus`"),
    ({"data.validation": None, "data.split": {"validation": 0.1, "test": 0}},
     "data.split would carve validation out of train"),
])
def test_what_a_stream_cannot_do_is_refused_when_the_recipe_is_read(tmp_path, change, message):
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.check(pretrain_recipe(tmp_path, "refused", streaming=True), change)
    assert message in str(caught.value)


def pairs_recipe(tmp_path, task: str, name: str, **data) -> dict:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    return {"task": task, "model": dict(TINY_GPT2),
            "data": {"train": str(write_jsonl(tmp_path / "pairs_train.jsonl", rows[:32])),
                     "validation": str(write_jsonl(tmp_path / "pairs_validation.jsonl", rows[32:40])),
                     "max_length": 64, **data},
            "training": in_file_order(tmp_path / name, max_steps=6, learning_rate=1e-3)}


@pytest.mark.parametrize("task", ["dpo", "reward"])
def test_streamed_preference_pairs_take_the_steps_of_the_same_file_read_whole(tmp_path, task):
    whole = toolkit.train(pairs_recipe(tmp_path, task, "whole"))
    streamed = toolkit.train(pairs_recipe(tmp_path, task, "streamed", streaming=True))
    assert losses(streamed) == pytest.approx(losses(whole), abs=1e-4) and len(losses(whole)) == 6
