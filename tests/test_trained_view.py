"""`toolkit check --show`: the tokens it marks as carrying loss are exactly those the trainer's own collator
labels (not -100), for each SFT data shape and for a preference pair; examples with nothing to learn are
refused, named by split and row, before the model loads."""

from __future__ import annotations

import json

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl
from toolkit.recipe import load_recipe
from toolkit.tasks import dpo, sft
from toolkit.trained_view import render

ASSETS = ROOT / "toolkit" / "assets"


def rows(name: str, count: int) -> list[dict]:
    return [json.loads(line) for line in (ASSETS / name).read_text(encoding="utf-8").splitlines()[:count]]


def shaped(shape: str, count: int = 6) -> list[dict]:
    alpaca = rows("toy_instructions.jsonl", count)
    prompt = [row["instruction"] + (f"\n{row['input']}" if row["input"] else "") for row in alpaca]
    if shape == "alpaca":
        return alpaca
    if shape == "prompt-completion":
        return [{"prompt": p, "completion": " " + row["output"]} for p, row in zip(prompt, alpaca, strict=True)]
    return [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": row["output"]}]}
            for p, row in zip(prompt, alpaca, strict=True)]


def recipe(tmp_path, task: str, data: list[dict], max_length: int = 64) -> dict:
    return {"task": task, "model": dict(TINY_GPT2),
            "data": {"train": str(write_jsonl(tmp_path / f"{task}.jsonl", data)), "max_length": max_length},
            "training": {"output_dir": str(tmp_path / "run"), "max_steps": 1, "disable_tqdm": True}}


def unpadded(batch, key: str, index: int) -> list[int]:
    mask = batch["attention_mask"][index].bool()
    return batch[key][index][mask].tolist()


@pytest.mark.parametrize("shape", ["messages", "prompt-completion", "alpaca"])
def test_show_marks_exactly_the_tokens_the_sft_collator_labels(tmp_path, shape):
    cutting = 14 if shape == "prompt-completion" else 32  # cuts replies (no chat template: shorter), drops none
    made = recipe(tmp_path, "sft", shaped(shape), max_length=cutting)
    shown = toolkit.check(made, show=6)["examples"]
    prepared = sft.prepare(load_recipe(made))
    trainer = sft.build_trainer(prepared)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(shown))])
    for index, example in enumerate(shown):
        (part,) = example["parts"]
        assert part["ids"] == unpadded(batch, "input_ids", index)
        assert part["trained"] == [label != -100 for label in unpadded(batch, "labels", index)]
        assert sum(part["trained"]) > 0
    assert any(example["parts"][0]["cut"] for example in shown)
    plain = render(shown[0])
    assert "[[" in plain and "]]" in plain and "<|im_end|>" in plain if shape != "prompt-completion" else True


def test_show_marks_exactly_the_reply_tokens_the_dpo_collator_scores(tmp_path):
    made = recipe(tmp_path, "dpo", rows("toy_preferences.jsonl", 4), max_length=40)  # cuts the third pair's replies
    shown = toolkit.check(made, show=4)["examples"]
    prepared = dpo.prepare(load_recipe(made))
    trainer = dpo.build_trainer(prepared)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    for index, example in enumerate(shown):
        prompt, chosen, rejected = example["parts"]
        assert [part["name"] for part in example["parts"]] == ["prompt", "chosen", "rejected"]
        for row, reply in ((index, chosen), (index + 4, rejected)):  # DPO batches: chosen rows, then rejected
            assert reply["trained"] == [True] * len(reply["ids"])
            assert unpadded(batch, "input_ids", row) == prompt["ids"] + reply["ids"]
            assert unpadded(batch, "completion_mask", row) == [0] * len(prompt["ids"]) + [1] * len(reply["ids"])
    assert shown[2]["parts"][1]["cut"] > 0 and shown[2]["parts"][2]["cut"] > 0


def test_show_prints_text_and_label_for_classification(tmp_path):
    from conftest import TINY_BERT, toy_rows

    made = {**recipe(tmp_path, "classification", toy_rows()[:40]), "model": dict(TINY_BERT)}
    (example,) = toolkit.check(made, show=1)["examples"]
    assert example["label"] in ("ham", "spam") and example["trained_tokens"] == 0
    assert f"label {example['label']}" in render(example)


def test_replies_cut_off_by_max_length_are_refused_with_the_row_named(tmp_path):
    data = shaped("messages", 12)
    long_prompt = "Please read this carefully. " * 12
    for row in data[:4]:  # a third of the rows: their prompt alone fills max_length
        row["messages"][0]["content"] = long_prompt + row["messages"][0]["content"]
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.check(recipe(tmp_path, "sft", data, max_length=40))
    message = str(caught.value)
    assert "split 'train': 4 of 12 examples carry no token of loss (rows 1, 2, 3, 4" in message
    assert "max_length cuts" in message and "Raise data.max_length" in message


def test_a_few_rows_with_nothing_to_learn_are_a_warning_with_the_count(tmp_path):
    data = shaped("messages", 30)
    data[6]["messages"][0]["content"] = "Please read this carefully. " * 12
    facts = toolkit.check(recipe(tmp_path, "sft", data, max_length=40))
    assert any("1 of 30 examples carry no token of loss (rows 7;" in warning for warning in facts["warnings"])


def test_an_empty_reply_is_refused_with_the_row_named(tmp_path):
    data = shaped("messages", 8)
    data[2]["messages"][1]["content"] = ""
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.check(recipe(tmp_path, "sft", data))
    assert "row 3" in str(caught.value)


def test_a_chat_template_without_generation_marks_is_refused_with_the_fix(tmp_path):
    from toolkit.tokenizer import train_bpe

    data = shaped("messages", 8)
    tokenizer = train_bpe([turn["content"] for row in data for turn in row["messages"]], vocab_size=300)
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    made = recipe(tmp_path, "sft", data)
    made["model"] = {**made["model"], "tokenizer": str(tmp_path / "tokenizer")}
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.check(made)
    assert "split 'train', every row (row 1 first): the chat template marks no assistant tokens" in str(caught.value)
    assert "training.assistant_only_loss: false" in str(caught.value)
    assert toolkit.check(made, {"training.assistant_only_loss": False})["loss_on"] == "all tokens"
