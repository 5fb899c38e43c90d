"""Instruction SFT: trained answers come back and stop at <|im_end|>; loss only on the assistant's tokens;
LoRA trains adapters only and merges exactly; every data shape TRL knows is accepted, and ShareGPT's."""

from __future__ import annotations

import json

import pytest
import torch

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl
from toolkit.chat import IM_END, sharegpt_to_messages
from toolkit.recipe import load_recipe
from toolkit.tasks import sft

INSTRUCTIONS = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"


def rows(n: int) -> list[dict]:
    return [json.loads(line) for line in INSTRUCTIONS.read_text().splitlines()[:n]]


def prompt_of(row: dict) -> str:
    return row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")


def sft_recipe(tmp_path, train: str, **training) -> dict:
    return {"task": "sft", "model": dict(TINY_GPT2), "data": {"train": train, "max_length": 64},
            "training": {"output_dir": str(tmp_path / "sft"), "num_train_epochs": 60,
                         "per_device_train_batch_size": 4, "learning_rate": 3e-3, "logging_steps": 20,
                         "disable_tqdm": True, "seed": 0, **training}}


@pytest.mark.slow
def test_sft_answers_what_it_was_taught_and_stops(tmp_path):
    taught = rows(12)
    train = write_jsonl(tmp_path / "train.jsonl", taught)
    result = toolkit.train(sft_recipe(tmp_path, str(train)))

    prompts = [prompt_of(row) for row in taught[:6]]
    answers = toolkit.generate(result.output_dir, prompts, max_new_tokens=40)
    # Equal text with 40 tokens allowed proves generation stopped at the end-of-turn token.
    assert sum(a == row["output"] for a, row in zip(answers, taught[:6], strict=True)) >= 5, answers

    from toolkit.generation import load_for_generation
    model, tokenizer = load_for_generation(result.output_dir)
    batch = tokenizer.apply_chat_template([{"role": "user", "content": prompts[0]}], add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True)
    out = model.generate(**batch, max_new_tokens=40, do_sample=False)
    new = out[0, batch["input_ids"].shape[1]:].tolist()
    assert new[-1] == tokenizer.convert_tokens_to_ids(IM_END) and len(new) < 40
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id != tokenizer.eos_token_id

    # The same answers from the command line, one-shot and interactive.
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "toolkit", "generate", str(result.output_dir), prompts[0]],
                          capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[-1])["output"] == answers[0]
    chat = subprocess.run([sys.executable, "-m", "toolkit", "chat", str(result.output_dir)],
                          input=f"{prompts[1]}\n\n", capture_output=True, text=True)
    assert chat.returncode == 0 and f"model> {answers[1]}" in chat.stdout


def test_loss_is_masked_on_prompt_tokens(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(4))
    prepared = sft.prepare(load_recipe(sft_recipe(tmp_path, str(train), max_steps=1)))
    trainer = sft.build_trainer(prepared)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    tokenizer = prepared.tokenizer
    text = tokenizer.decode(ids)
    answer = rows(4)[0]["output"]
    trained = tokenizer.decode([t for t, label in zip(ids, labels, strict=True) if label != -100])
    assert trained.strip() == answer + IM_END, (text, trained)
    first_trained = next(i for i, label in enumerate(labels) if label != -100)
    assert "<|im_start|>assistant" in tokenizer.decode(ids[:first_trained])


def test_lora_trains_adapters_only_and_merges_exactly(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(8))
    recipe = sft_recipe(tmp_path, str(train), num_train_epochs=3, bf16=False)  # exactness is an fp32 question
    recipe["peft"] = {"r": 8, "lora_alpha": 16, "target_modules": ["c_attn"], "fan_in_fan_out": True}
    prepared = sft.prepare(load_recipe(recipe))
    base_before = {n: p.detach().clone() for n, p in prepared.model.named_parameters() if "lora_" not in n}
    lora_before = {n: p.detach().clone() for n, p in prepared.model.named_parameters() if "lora_B" in n}
    trainer = sft.build_trainer(prepared)
    trainer.train()
    params = dict(trainer.model.named_parameters())
    assert all(torch.equal(params[n], p) for n, p in base_before.items())
    assert all(not torch.equal(params[n], p) for n, p in lora_before.items())

    ids = torch.tensor([[5, 17, 42, 99, 7]])
    trainer.model.eval()  # no dropout: the two forward passes must see the same network
    with torch.no_grad():
        adapted = trainer.model(input_ids=ids).logits
        merged = trainer.model.merge_and_unload()(input_ids=ids).logits
    assert torch.allclose(adapted, merged, atol=1e-4)


@pytest.mark.parametrize("shape", ["messages", "prompt-completion", "alpaca"])
def test_each_data_shape_trains(tmp_path, shape):
    taught = rows(6)
    if shape == "messages":
        data = [{"messages": [{"role": "user", "content": prompt_of(r)}, {"role": "assistant", "content": r["output"]}]}
                for r in taught]
    elif shape == "prompt-completion":
        data = [{"prompt": prompt_of(r), "completion": " " + r["output"]} for r in taught]
    else:
        data = taught
    train = write_jsonl(tmp_path / "train.jsonl", data)
    result = toolkit.train(sft_recipe(tmp_path, str(train), max_steps=3))
    assert (result.output_dir / "run.json").is_file()
    facts = toolkit.check(sft_recipe(tmp_path / "again", str(train)))
    assert facts["data_format"] == shape
    assert facts["loss_on"] == ("completions" if shape == "prompt-completion" else "assistant turns")


def sharegpt_rows(taught: list[dict]) -> list[dict]:
    """Two exchanges per row after a system turn, in ShareGPT's speaker names (both of each pair)."""
    return [{"conversations": [{"from": "system", "value": "Answer in a few words."},
                               {"from": "human", "value": prompt_of(a)}, {"from": "gpt", "value": a["output"]},
                               {"from": "user", "value": prompt_of(b)}, {"from": "assistant", "value": b["output"]}]}
            for a, b in zip(taught[::2], taught[1::2], strict=True)]


def trained_runs(part: dict) -> list[str]:
    """The texts of an example's stretches of tokens that carry loss, in order."""
    runs, previous = [], False
    for token, trained in zip(part["tokens"], part["trained"], strict=True):
        if trained and not previous:
            runs.append("")
        if trained:
            runs[-1] += token
        previous = trained
    return runs


def test_sharegpt_conversations_train_with_loss_on_every_assistant_turn(tmp_path):
    """ShareGPT rows (`conversations` of {from, value}, what Axolotl and LLaMA-Factory read) train as `messages`
    do: the loss covers each reply and its end-of-turn token, never the system or user turns."""
    taught = rows(6)
    train = write_jsonl(tmp_path / "train.jsonl", sharegpt_rows(taught))
    recipe = sft_recipe(tmp_path, str(train), max_steps=2)
    recipe["data"]["max_length"] = 128
    facts = toolkit.check(recipe, show=3)
    assert facts["data_format"] == "sharegpt" and facts["loss_on"] == "assistant turns"
    for example, first, second in zip(facts["examples"], taught[::2], taught[1::2], strict=True):
        (part,) = example["parts"]
        assert part["cut"] == 0
        assert [run.strip() for run in trained_runs(part)] == [first["output"] + IM_END, second["output"] + IM_END]
    result = toolkit.train(recipe)
    assert (result.output_dir / "run.json").is_file()


def test_sharegpt_speaker_names_become_chat_roles():
    names = ["system", "human", "gpt", "user", "assistant", "chatgpt", "bing", "bard", "model", "Human", "GPT"]
    turns = [{"from": name, "value": f"turn {i}"} for i, name in enumerate(names)]
    messages = sharegpt_to_messages(turns, "here")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "assistant",
                                             "assistant", "assistant", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages] == [t["value"] for t in turns]
    with pytest.raises(toolkit.ToolkitError, match="here: ShareGPT speaker 'robot'.*human.*gpt"):
        sharegpt_to_messages([{"from": "human", "value": "hi"}, {"from": "robot", "value": "beep"}], "here")
