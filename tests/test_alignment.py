"""Alignment: reward models learn preferences, DPO widens the chosen-vs-rejected margin without touching
its reference, and every preference shape public sets use is accepted."""

from __future__ import annotations

import json

import pytest
import torch

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl
from toolkit.recipe import load_recipe
from toolkit.tasks import dpo, kto
from toolkit.tasks.preferences import load_pairs

PREFERENCES = ROOT / "toolkit" / "assets" / "toy_preferences.jsonl"


def pairs(n: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in PREFERENCES.read_text().splitlines()]
    return rows[:n] if n else rows


def preference_recipe(tmp_path, task: str, train: str = str(PREFERENCES), **training) -> dict:
    return {"task": task, "model": dict(TINY_GPT2),
            "data": {"train": train, "split": {"validation": 0.15, "test": 0.0}, "max_length": 64},
            "training": {"output_dir": str(tmp_path / task), "num_train_epochs": 4,
                         "per_device_train_batch_size": 16, "learning_rate": 1e-3, "logging_steps": 5,
                         "disable_tqdm": True, "seed": 0, **training}}


def test_reward_model_learns_the_preferences_and_scores(tmp_path):
    result = toolkit.train(preference_recipe(tmp_path, "reward"))
    before, after = result.metrics["before"]["validation"], result.metrics["validation"]
    assert after["accuracy"] > 0.8 and after["accuracy"] > before["accuracy"] + 0.2, (before, after)
    assert after["margin"] > before["margin"]
    assert (result.output_dir / "pairs.png").stat().st_size > 1000

    sample = pairs()[-20:]
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "") for r in sample]
    chosen = toolkit.score(result.output_dir, [r["chosen"] for r in sample], prompts)
    rejected = toolkit.score(result.output_dir, [r["rejected"] for r in sample], prompts)
    assert sum(c > r for c, r in zip(chosen, rejected, strict=True)) >= 14


@pytest.mark.parametrize("shape", ["explicit", "implicit", "instruction", "conversational", "sharegpt"])
def test_every_preference_shape_is_accepted(tmp_path, shape):
    rows = pairs(40)
    prompt = [r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "") for r in rows]
    if shape == "explicit":
        data = [{"prompt": p, "chosen": r["chosen"], "rejected": r["rejected"]} for p, r in zip(prompt, rows, strict=True)]
    elif shape == "implicit":
        data = [{"chosen": f"{p}\n{r['chosen']}", "rejected": f"{p}\n{r['rejected']}"} for p, r in zip(prompt, rows, strict=True)]
    elif shape == "conversational":
        data = [{"prompt": [{"role": "user", "content": p}],
                 "chosen": [{"role": "assistant", "content": r["chosen"]}],
                 "rejected": [{"role": "assistant", "content": r["rejected"]}]} for p, r in zip(prompt, rows, strict=True)]
    elif shape == "sharegpt":  # LLaMA-Factory's ranking format
        data = [{"conversations": [{"from": "human", "value": p}], "chosen": {"from": "gpt", "value": r["chosen"]},
                 "rejected": {"from": "gpt", "value": r["rejected"]}} for p, r in zip(prompt, rows, strict=True)]
    else:
        data = rows
    train = write_jsonl(tmp_path / "pairs.jsonl", data)
    for task in ("reward", "dpo"):
        result = toolkit.train(preference_recipe(tmp_path / shape, task, str(train), max_steps=2))
        assert (result.output_dir / "run.json").is_file()


def test_sharegpt_pairs_become_a_prompt_conversation_and_two_replies(tmp_path):
    """LLaMA-Factory's ranking rows: the turns before the replies (system and earlier exchanges kept) are the
    prompt; `chosen` and `rejected`, one {from, value} turn each, are the assistant's replies."""
    row = {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                             {"from": "gpt", "value": "Hello."}, {"from": "human", "value": "Capital of Peru?"}],
           "chosen": {"from": "gpt", "value": "Lima."}, "rejected": {"from": "gpt", "value": "Quito."}}
    train = write_jsonl(tmp_path / "ranking.jsonl", [row] * 8)
    recipe = preference_recipe(tmp_path, "dpo", str(train))
    del recipe["data"]["split"]
    splits, shape = load_pairs(load_recipe(recipe), conversational=True)
    assert shape == "sharegpt"
    assert splits["train"][0] == {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of Peru?"}],
        "chosen": [{"role": "assistant", "content": "Lima."}], "rejected": [{"role": "assistant", "content": "Quito."}]}


def test_dpo_widens_the_margin_and_leaves_the_reference_alone(tmp_path):
    prepared = dpo.prepare(load_recipe(preference_recipe(tmp_path, "dpo", num_train_epochs=2, learning_rate=5e-4)))
    reference = {name: p.detach().clone() for name, p in prepared.reference.named_parameters()}
    start = {name: p.detach().clone() for name, p in prepared.model.named_parameters()}
    trainer = dpo.build_trainer(prepared)
    before = dpo.measure(trainer, prepared, "validation")
    trainer.train()
    after = dpo.measure(trainer, prepared, "validation")

    assert after["margin"] > before["margin"] + 0.5 and after["accuracy"] > before["accuracy"] + 0.2, (before, after)
    assert all(torch.equal(p, reference[name]) for name, p in prepared.reference.named_parameters())
    changed = [name for name, p in trainer.model.named_parameters() if not torch.equal(p, start[name])]
    assert len(changed) > len(start) // 2


def test_dpo_with_lora_uses_the_adapter_free_model_as_reference(tmp_path):
    recipe = preference_recipe(tmp_path, "dpo", max_steps=4, learning_rate=1e-3)
    recipe["peft"] = {"r": 8, "lora_alpha": 16, "target_modules": ["c_attn"], "fan_in_fan_out": True}
    prepared = dpo.prepare(load_recipe(recipe))
    assert prepared.reference is None
    base = {n: p.detach().clone() for n, p in prepared.model.named_parameters() if "lora_" not in n}
    trainer = dpo.build_trainer(prepared)
    trainer.train()
    params = dict(trainer.model.named_parameters())
    assert all(torch.equal(params[n], p) for n, p in base.items())
    # Held-out implicit rewards against the adapter-free start, over several evaluation batches.
    trainer.args.per_device_eval_batch_size = 8
    held_out = dpo.measure(trainer, prepared, "validation")
    assert held_out["pairs"] == len(prepared.splits["validation"]) > 8 and held_out["ties"] < held_out["pairs"]
    assert toolkit.check({**recipe, "overwrite": True})["reference"] == "adapter disabled (LoRA)"


def unpaired_rows(n: int) -> list[dict]:
    """The toy pairs as KTO's unpaired shape: each reply its own row, marked desirable or not."""
    rows = []
    for r in pairs(n):
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "")
        rows += [{"prompt": prompt, "completion": r["chosen"], "label": True},
                 {"prompt": prompt, "completion": r["rejected"], "label": False}]
    return rows


def test_kto_widens_the_margin_and_leaves_the_reference_alone(tmp_path):
    prepared = kto.prepare(load_recipe(preference_recipe(tmp_path, "kto", num_train_epochs=2, learning_rate=5e-4)))
    assert sorted(prepared.splits["train"].column_names) == ["completion", "label", "prompt"]
    reference = {name: p.detach().clone() for name, p in prepared.reference.named_parameters()}
    trainer = kto.build_trainer(prepared)
    before = kto.measure(trainer, prepared, "validation")
    trainer.train()
    after = kto.measure(trainer, prepared, "validation")
    assert after["margin"] > before["margin"] + 0.5, (before, after)
    assert all(torch.equal(p, reference[name]) for name, p in prepared.reference.named_parameters())


def test_kto_takes_unpaired_rows(tmp_path):
    train = write_jsonl(tmp_path / "unpaired.jsonl", unpaired_rows(40))
    result = toolkit.train(preference_recipe(tmp_path, "kto", str(train), max_steps=2))
    validation = result.metrics["validation"]
    assert validation["desirable"] == validation["undesirable"] == 6 and (result.output_dir / "run.json").is_file()
    assert toolkit.check(preference_recipe(tmp_path / "again", "kto", str(train)))["data"] == "unpaired"


def test_orpo_learns_the_preferences_without_a_reference(tmp_path):
    result = toolkit.train(preference_recipe(tmp_path, "orpo", num_train_epochs=2, learning_rate=5e-4))
    before, after = result.metrics["before"]["validation"], result.metrics["validation"]
    assert after["accuracy"] > before["accuracy"] + 0.2 and after["nll_loss"] < before["nll_loss"], (before, after)
    assert (result.output_dir / "rewards.png").stat().st_size > 1000
    assert toolkit.check(preference_recipe(tmp_path / "again", "orpo"))["reference"] == "none (ORPO)"


def test_score_reproduces_the_runs_pairwise_accuracy_and_margin(tmp_path):
    """`toolkit score` reads a (prompt, reply) exactly as reward training and its evaluation did (EOS included)."""
    held_out = pairs()[-40:]
    validation = write_jsonl(tmp_path / "validation.jsonl", held_out)
    recipe = preference_recipe(tmp_path, "reward", max_steps=6)
    recipe["data"] = {"train": str(PREFERENCES), "validation": str(validation), "max_length": 64}
    result = toolkit.train(recipe)
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "") for r in held_out]
    chosen = toolkit.score(result.output_dir, [r["chosen"] for r in held_out], prompts)
    rejected = toolkit.score(result.output_dir, [r["rejected"] for r in held_out], prompts)
    written = result.metrics["validation"]
    assert sum(c > r for c, r in zip(chosen, rejected, strict=True)) == written["correct"]
    assert written["accuracy"] == written["correct"] / len(held_out)
    margin = sum(c - r for c, r in zip(chosen, rejected, strict=True)) / len(held_out)
    assert abs(margin - written["margin"]) < 1e-5, (margin, written["margin"])

    # An RL reward from the same folder scores a completion as `score` does.
    from toolkit.tasks.rlhf import parse_rewards
    from toolkit.recipe import RLSpec

    reward = parse_rewards(RLSpec(rewards=[{"model": str(result.output_dir)}]), "test", load=True)[0].function
    replies = [r["chosen"] for r in held_out[:4]]
    assert reward(prompts=prompts[:4], completions=replies) == pytest.approx(chosen[:4], abs=1e-5)


def test_score_refuses_prompts_that_do_not_match_the_replies(tmp_path):
    result = toolkit.train(preference_recipe(tmp_path, "reward", max_steps=1))
    with pytest.raises(toolkit.ToolkitError, match="2 prompts for 3 replies"):
        toolkit.score(result.output_dir, ["a", "b", "c"], ["p", "q"])


def test_dpo_policy_equal_to_its_reference_ties_on_every_pair(tmp_path):
    """Before training the policy is its reference: every implicit reward is 0, so every pair is a tie and
    none counts as correct (bf16 on one side only used to turn float noise into a 'before' accuracy)."""
    prepared = dpo.prepare(load_recipe(preference_recipe(tmp_path, "dpo", max_steps=1)))
    before = dpo.measure(dpo.build_trainer(prepared), prepared, "validation")
    assert before["ties"] == before["pairs"] == len(prepared.splits["validation"]) > 0
    assert before["correct"] == 0 and before["accuracy"] == 0.0 and before["margin"] == 0.0
