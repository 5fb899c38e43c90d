"""Tokenize once, train many: token shards train exactly as the text they were cut from, and refuse a run
that would read them with another tokenizer, block size or task."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl

CORPUS = ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl"


def recipe(tmp_path, name: str, train: str, validation: str, tokenizer, **data) -> dict:
    return {"task": "pretrain", "model": {**TINY_GPT2, "tokenizer": tokenizer},
            "data": {"train": train, "validation": validation, "max_length": 64, **data},
            "training": {"output_dir": str(tmp_path / name), "max_steps": 8, "per_device_train_batch_size": 4,
                         "learning_rate": 2e-3, "logging_steps": 1, "disable_tqdm": True, "seed": 0,
                         "train_sampling_strategy": "sequential", "eval_strategy": "no"}}


def losses(result) -> list[float]:
    return [row["loss"] for row in json.loads((result.output_dir / "log_history.json").read_text()) if "loss" in row]


@pytest.fixture
def corpus(tmp_path):
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return (str(write_jsonl(tmp_path / "train.jsonl", rows[:100])),
            str(write_jsonl(tmp_path / "validation.jsonl", rows[100:120])))


def test_shards_train_as_the_text_they_were_cut_from(tmp_path, corpus):
    train, validation = corpus
    shards = tmp_path / "tokens"
    written = toolkit.tokenize(recipe(tmp_path, "unused", train, validation, {"vocab_size": 400}), shards)
    assert written["splits"]["train"]["blocks"] > 32 and (shards / "tokenizer" / "tokenizer.json").is_file()

    tokenizer = str(shards / "tokenizer")
    from_text = toolkit.train(recipe(tmp_path, "text", train, validation, tokenizer))
    whole = toolkit.train(recipe(tmp_path, "whole", str(shards / "train"), str(shards / "validation"), tokenizer))
    streamed = toolkit.train(recipe(tmp_path, "streamed", str(shards / "train"), str(shards / "validation"),
                                    tokenizer, streaming=True))
    assert losses(whole) == pytest.approx(losses(from_text), abs=1e-5) and len(losses(whole)) == 8
    assert losses(streamed) == pytest.approx(losses(from_text), abs=1e-5)
    assert whole.metrics["validation"]["loss"] == pytest.approx(from_text.metrics["validation"]["loss"], abs=1e-5)
    again = toolkit.evaluate(whole.output_dir)  # the run's saved tokenizer still fits its shards
    assert again["validation"]["loss"] == pytest.approx(whole.metrics["validation"]["loss"], abs=1e-5)


def test_shards_refuse_another_tokenizer_block_size_or_task(tmp_path, corpus):
    train, validation = corpus
    shards = tmp_path / "tokens"
    toolkit.tokenize(recipe(tmp_path, "unused", train, validation, {"vocab_size": 400}), shards)
    other = tmp_path / "other"
    toolkit.tokenize(recipe(tmp_path, "unused", train, validation, {"vocab_size": 300}), other)
    reading = recipe(tmp_path, "r", str(shards / "train"), str(shards / "validation"), str(shards / "tokenizer"))
    cases = [({"model.tokenizer": str(other / "tokenizer")}, "token shards made with another tokenizer"),
             ({"data.max_length": 32}, "holds blocks of 64 tokens and this run cuts 32"),
             ({"model.tokenizer": {"vocab_size": 400}}, "set model.tokenizer to the shards' tokenizer folder"),
             ({"data.clean": {}}, "is token shards, cleaned (or not) before")]
    for change, message in cases:
        with pytest.raises(toolkit.ToolkitError) as caught:
            toolkit.check(reading, change)
        assert message in str(caught.value)


@pytest.mark.slow
def test_the_command_writes_nothing_over_a_folder_in_use(tmp_path, corpus):
    train, validation = corpus
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe(tmp_path, "unused", train, validation, {"vocab_size": 300})))
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    for flags in ([], ["--overwrite"]):  # a folder the toolkit did not write is never replaced, flag or not
        done = subprocess.run([sys.executable, "-m", "toolkit", "tokenize", str(path), "--output", str(occupied),
                               *flags], capture_output=True, text=True)
        assert done.returncode == 2 and "did not write (keep.txt)" in done.stderr, done.stderr
        assert (occupied / "keep.txt").read_text() == "mine"


def test_corpus_preparation_can_end_with_the_kept_documents_token_shards(tmp_path, corpus):
    train, validation = corpus
    prepared = tmp_path / "prepared"
    cleaning = {**recipe(tmp_path, "unused", train, validation, {"vocab_size": 300}),
                "data": {"train": train, "validation": validation, "max_length": 64,
                         "clean": {"language": None, "near_dedup": False}}}
    report = toolkit.prepare_corpus_files(cleaning, output=prepared, tokenize=True)
    kept = recipe(tmp_path, "unused", str(prepared / "train.jsonl"), str(prepared / "validation.jsonl"),
                  {"vocab_size": 300})
    by_hand = toolkit.tokenize(kept, tmp_path / "by-hand")
    assert report["documents_kept"] < report["documents_in"]  # something was cleaned out
    assert report["tokens"]["splits"] == by_hand["splits"]
    import pyarrow.parquet as pq

    for split in ("train", "validation"):
        assert pq.read_table(prepared / "tokens" / split / "00000.parquet").equals(
            pq.read_table(tmp_path / "by-hand" / split / "00000.parquet"))
