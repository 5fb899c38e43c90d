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
    assert sum(c > r for c, r in zip(chosen, rejected)) >= 14


@pytest.mark.parametrize("shape", ["explicit", "implicit", "instruction", "conversational"])
def test_every_preference_shape_is_accepted(tmp_path, shape):
    rows = pairs(40)
    prompt = [r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "") for r in rows]
    if shape == "explicit":
        data = [{"prompt": p, "chosen": r["chosen"], "rejected": r["rejected"]} for p, r in zip(prompt, rows)]
    elif shape == "implicit":
        data = [{"chosen": f"{p}\n{r['chosen']}", "rejected": f"{p}\n{r['rejected']}"} for p, r in zip(prompt, rows)]
    elif shape == "conversational":
        data = [{"prompt": [{"role": "user", "content": p}],
                 "chosen": [{"role": "assistant", "content": r["chosen"]}],
                 "rejected": [{"role": "assistant", "content": r["rejected"]}]} for p, r in zip(prompt, rows)]
    else:
        data = rows
    train = write_jsonl(tmp_path / "pairs.jsonl", data)
    for task in ("reward", "dpo"):
        result = toolkit.train(preference_recipe(tmp_path / shape, task, str(train), max_steps=2))
        assert (result.output_dir / "run.json").is_file()


def test_dpo_widens_the_margin_and_leaves_the_reference_alone(tmp_path):
    prepared = dpo.prepare(load_recipe(preference_recipe(tmp_path, "dpo", num_train_epochs=2, learning_rate=5e-4)))
    reference = {name: p.detach().clone() for name, p in prepared.reference.named_parameters()}
    start = {name: p.detach().clone() for name, p in prepared.model.named_parameters()}
    trainer = dpo.build_trainer(prepared)
    before = dpo.preference_metrics(trainer, trainer.eval_dataset, "validation")
    trainer.train()
    after = dpo.preference_metrics(trainer, trainer.eval_dataset, "validation")

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
    before = kto.preference_metrics(trainer, trainer.eval_dataset, "validation")
    trainer.train()
    after = kto.preference_metrics(trainer, trainer.eval_dataset, "validation")
    assert after["margin"] > before["margin"] + 0.5, (before, after)
    assert all(torch.equal(p, reference[name]) for name, p in prepared.reference.named_parameters())


def test_kto_takes_unpaired_rows(tmp_path):
    train = write_jsonl(tmp_path / "unpaired.jsonl", unpaired_rows(40))
    result = toolkit.train(preference_recipe(tmp_path, "kto", str(train), max_steps=2))
    assert result.metrics["validation"]["kl"] >= 0 and (result.output_dir / "run.json").is_file()
    assert toolkit.check(preference_recipe(tmp_path / "again", "kto", str(train)))["data"] == "unpaired"


def test_orpo_learns_the_preferences_without_a_reference(tmp_path):
    result = toolkit.train(preference_recipe(tmp_path, "orpo", num_train_epochs=2, learning_rate=5e-4))
    before, after = result.metrics["before"]["validation"], result.metrics["validation"]
    assert after["accuracy"] > before["accuracy"] + 0.2 and after["nll_loss"] < before["nll_loss"], (before, after)
    assert (result.output_dir / "rewards.png").stat().st_size > 1000
    assert toolkit.check(preference_recipe(tmp_path / "again", "orpo"))["reference"] == "none (ORPO)"
