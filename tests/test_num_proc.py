"""data.num_proc: tokenizing in several processes gives the very blocks and rows one process gives, and the
default comes from the machine's cores for splits large enough to gain from them."""

from __future__ import annotations

import json
import os

from datasets import Dataset, DatasetDict

from conftest import ROOT
from toolkit.data.blocks import text_blocks
from toolkit.data.splits import PARALLEL_ROWS, map_processes
from toolkit.recipe import DataSpec
from toolkit.tokenizer import train_bpe

CORPUS = ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl"


def test_blocks_do_not_depend_on_the_number_of_processes():
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()] * 5
    splits = DatasetDict({"train": Dataset.from_dict({"text": texts})})  # over 1,000 documents: several cuts
    tokenizer = train_bpe(texts[:200], vocab_size=400)
    one = text_blocks(splits, tokenizer, "text", 32, tokenizer.eos_token_id)["train"]
    two = text_blocks(splits, tokenizer, "text", 32, tokenizer.eos_token_id, num_proc=2)["train"]
    assert len(texts) > 1000 and len(one) > 1000
    assert one["input_ids"] == two["input_ids"]


def test_the_default_uses_the_cores_for_large_splits_and_the_recipe_overrides_it():
    cores = len(os.sched_getaffinity(0))
    assert map_processes(DataSpec(), PARALLEL_ROWS) == (min(cores, 8) if cores > 1 else None)
    assert map_processes(DataSpec(), PARALLEL_ROWS - 1) is None
    assert map_processes(DataSpec(), "streamed") is None
    assert map_processes(DataSpec(num_proc=3), 10) == 3
    assert map_processes(DataSpec(num_proc=1), 10 * PARALLEL_ROWS) is None
