"""Plain-text files: what one document of a .txt file is (data.sample_by), and held-out splits kept in file
order (data.split.shuffle: false), down to a single story read as one document."""

from __future__ import annotations

import random

import pytest
from datasets import Dataset, DatasetDict

import toolkit
from conftest import TINY_BERT, TINY_GPT2, write_jsonl
from toolkit.data.blocks import text_blocks
from toolkit.data.splits import finish_splits, read_splits
from toolkit.recipe import load_recipe
from toolkit.tasks import pretrain

THREE_PARAGRAPHS = "First line.\nSecond line.\n\nThird line.\n\n\n\nFourth line.\nFifth line.\n"


def story(paragraphs: int = 10, lines: int = 8, words: int = 10) -> str:
    """Made-up prose, paragraphs separated by blank lines; ASCII, so decoded blocks compare byte for byte."""
    pick = random.Random(0).choice
    vocabulary = "the fox ran over a hill and saw river where old man sat by fire telling tales of long ago".split()
    return "\n\n".join("\n".join(" ".join(pick(vocabulary) for _ in range(words)).capitalize() + "."
                                 for _ in range(lines)) for _ in range(paragraphs)) + "\n"


def lm_recipe(tmp_path, text_file, task: str = "pretrain", model: dict = TINY_GPT2, **data) -> dict:
    return {"task": task, "model": dict(model),
            "data": {"train": str(text_file), "max_length": 32, **data},
            "training": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "per_device_train_batch_size": 4,
                         "logging_steps": 1, "disable_tqdm": True, "seed": 0}}


@pytest.mark.parametrize("sample_by, documents", [
    ("document", [THREE_PARAGRAPHS]),
    ("paragraph", ["First line.\nSecond line.", "Third line.", "Fourth line.\nFifth line.\n"]),
    ("line", ["First line.", "Second line.", "Third line.", "Fourth line.", "Fifth line."]),
])
def test_sample_by_decides_what_one_document_of_a_txt_file_is(tmp_path, sample_by, documents):
    path = tmp_path / "three.txt"
    path.write_text(THREE_PARAGRAPHS, encoding="utf-8")
    recipe = load_recipe(lm_recipe(tmp_path, path, sample_by=sample_by))
    assert list(read_splits(recipe)["train"]["text"]) == documents  # datasets' own cut, blank ones dropped


@pytest.mark.parametrize("task, model", [("pretrain", TINY_GPT2), ("mlm", TINY_BERT)])
def test_language_model_tasks_read_a_txt_file_as_one_document(tmp_path, task, model):
    path = tmp_path / "story.txt"
    path.write_text(story(), encoding="utf-8")
    facts = toolkit.check(lm_recipe(tmp_path, path, task, model))
    assert facts["splits"]["train"]["documents"] == 1
    assert facts["data"]["txt"] == "each .txt file is one document (sample_by document, the task default)"


def test_sample_by_on_a_file_that_is_not_txt_is_an_error(tmp_path):
    rows = write_jsonl(tmp_path / "docs.jsonl", [{"text": "one"}, {"text": "two"}])
    with pytest.raises(toolkit.ToolkitError, match=r"data.sample_by: it applies to .txt files.*docs.jsonl"):
        toolkit.check(lm_recipe(tmp_path, rows, sample_by="paragraph"))


def test_blank_documents_add_no_separator():
    splits = DatasetDict({"train": Dataset.from_dict({"text": ["ab", "", "cd", "  "]})})

    def characters(texts, add_special_tokens=False):  # one token per character, enough to see the stream
        return {"input_ids": [[ord(c) for c in text] for text in texts]}

    blocks = text_blocks(splits, characters, "text", block_size=1, separator_id=0)
    assert [ids for (ids,) in blocks["train"]["input_ids"]] == [ord("a"), ord("b"), 0, ord("c"), ord("d"), 0]


def test_ordered_split_takes_the_first_next_and_last_rows(tmp_path):
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"text": f"row {i}", "label": i % 2} for i in range(20)])
    recipe = load_recipe({"task": "classification", "model": dict(TINY_GPT2),
                          "data": {"train": str(rows), "split": {"validation": 0.1, "test": 0.2, "shuffle": False}},
                          "training": {"output_dir": str(tmp_path / "run")}})
    splits = finish_splits(read_splits(recipe), recipe)
    assert list(splits["train"]["text"]) == [f"row {i}" for i in range(14)]
    assert list(splits["validation"]["text"]) == ["row 14", "row 15"]
    assert list(splits["test"]["text"]) == ["row 16", "row 17", "row 18", "row 19"]


def test_one_story_trains_with_validation_and_test_carved_from_its_blocks(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(story(), encoding="utf-8")
    recipe = lm_recipe(tmp_path, path, split={})  # the default split: validation 10%, test 20%, shuffled
    facts = toolkit.check(recipe)
    assert facts["data"]["split"].startswith("by token blocks, as train holds 1 document")
    assert all(split["documents"] == 1 for split in facts["splits"].values())
    result = toolkit.train(recipe)
    assert {"validation", "test"} <= set(result.metrics) and result.metrics["validation"]["loss"] > 0


def test_ordered_split_of_one_story_holds_out_its_end(tmp_path):
    text = story()
    path = tmp_path / "story.txt"
    path.write_text(text, encoding="utf-8")
    prepared = pretrain.prepare(load_recipe(lm_recipe(tmp_path, path, split={"shuffle": False})))

    def decoded(name: str) -> str:
        ids = [token for block in prepared.splits[name]["input_ids"] for token in block]
        return prepared.tokenizer.decode(ids, skip_special_tokens=True)

    train, validation, test = decoded("train"), decoded("validation"), decoded("test")
    assert validation and test
    assert text.startswith(train + validation + test)  # train first, then validation, then test
    left_out = text[len(train + validation + test):]  # the last partial block, shorter than a block
    assert len(prepared.tokenizer(left_out, add_special_tokens=False)["input_ids"]) < prepared.block_size


def test_check_says_how_the_text_was_read_and_split(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(story(), encoding="utf-8")
    facts = toolkit.check(lm_recipe(tmp_path, path, split={"shuffle": False}))
    assert facts["data"]["split"].startswith("by token blocks, as train holds 1 document, too few to carve whole "
                                             "ones; in file order, train keeps the first 70% of its ")
    for name in ("train", "validation", "test"):
        split = facts["splits"][name]
        assert split["documents"] == 1 and split["tokens"] == split["examples"] * facts["block_size"] > 0

    paragraphs = toolkit.check(lm_recipe(tmp_path, path, sample_by="paragraph", split={"shuffle": False}))
    assert {name: split["documents"] for name, split in paragraphs["splits"].items()} == {
        "train": 7, "validation": 1, "test": 2}
    assert paragraphs["data"]["split"] == ("in file order, train keeps the first 70% of its 10 documents, then "
                                           "validation the next 10%, then test the last 20%")
