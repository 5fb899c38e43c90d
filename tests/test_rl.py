"""Online RL (GRPO, RLOO): a checker's reward rises within a bounded number of steps, a reward-model folder
serves as a reward, and bad rewards are refused before training."""

from __future__ import annotations

import json

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2
from toolkit.cli import main

PROMPTS = str(ROOT / "toolkit" / "assets" / "arithmetic_rl.jsonl")


def rl_recipe(tmp_path, rewards: list, algorithm: str = "grpo", **training) -> dict:
    return {"task": "rlhf", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 300}},
            "data": {"train": PROMPTS}, "rl": {"algorithm": algorithm, "rewards": rewards},
            "training": {"output_dir": str(tmp_path / algorithm), "max_steps": 30, "per_device_train_batch_size": 8,
                         "num_generations": 4, "max_completion_length": 8, "learning_rate": 1e-2,
                         "logging_steps": 2, "disable_tqdm": True, "seed": 0, **training}}


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_checker_reward_rises(tmp_path, algorithm):
    recipe = rl_recipe(tmp_path, [{"function": "has_number"}], algorithm)
    # Prompts with few digits: the sums' prompts teach the new tokenizer so many that an untrained policy
    # already states a number in two replies of three, leaving the rise nothing to show.
    recipe["data"] = {"train": str(ROOT / "toolkit" / "assets" / "toy_instructions.jsonl")}
    result = toolkit.train(recipe)
    trend = [reward for _, reward in result.metrics["train_reward"]]
    first, last = sum(trend[:3]) / 3, sum(trend[-3:]) / 3  # each point is a mean over 8 sampled replies
    assert last > first + 0.25 and last > 0.8, trend
    assert (result.output_dir / "rl_trends.png").stat().st_size > 1000


def test_reward_model_folder_is_a_reward(tmp_path):
    reward = {"task": "reward", "model": dict(TINY_GPT2),
              "data": {"train": str(ROOT / "toolkit/assets/toy_preferences.jsonl"), "max_length": 48},
              "training": {"output_dir": str(tmp_path / "rm"), "max_steps": 3, "disable_tqdm": True}}
    toolkit.train(reward)
    result = toolkit.train(rl_recipe(tmp_path, [{"model": str(tmp_path / "rm"), "weight": 0.5},
                                                {"function": "exact_match", "weight": 1.0}], max_steps=2))
    assert result.metrics["train_reward_first"] is not None
    assert toolkit.check(rl_recipe(tmp_path / "again", [{"model": str(tmp_path / "rm")}]))["rewards"][0]["weight"] == 1.0


def write_module(tmp_path, monkeypatch, body: str) -> None:
    (tmp_path / "my_rewards.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))


BAD_REWARDS = {
    "not_importable": ([{"function": "no_such_module:score"}], ["cannot import 'no_such_module'"]),
    "unknown_built_in": ([{"function": "exact_mach"}], ["did you mean 'exact_match'"]),
    "wrong_count": ([{"function": "my_rewards:too_few"}], ["returned 1 scores for 2 completions"]),
    "raises": ([{"function": "my_rewards:broken"}], ["failed on a sample", "ZeroDivisionError"]),
    "not_a_reward_model": ([{"model": "CLASSIFIER"}], ["not a one-output classifier"]),
    "no_rewards": ([], ["rl.rewards is empty"]),
}


@pytest.mark.parametrize("case", BAD_REWARDS, ids=list(BAD_REWARDS))
def test_bad_reward_is_refused_before_training(case, tmp_path, monkeypatch, capsys):
    import yaml

    write_module(tmp_path, monkeypatch, "def too_few(prompts, completions, **kw):\n    return [1.0]\n"
                                        "def broken(prompts, completions, **kw):\n    return [1 / 0]\n")
    rewards, expected = BAD_REWARDS[case]
    if rewards and rewards[0].get("model") == "CLASSIFIER":
        classifier = {"task": "classification", "model": dict(TINY_GPT2),
                      "data": {"train": str(ROOT / "toolkit/assets/toy_sms.jsonl"), "max_length": 32},
                      "training": {"output_dir": str(tmp_path / "clf"), "max_steps": 1, "disable_tqdm": True}}
        toolkit.train(classifier)
        rewards = [{"model": str(tmp_path / "clf")}]
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(rl_recipe(tmp_path, rewards)))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err, err
    assert not (tmp_path / "grpo").exists()


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_announced_optimizer_steps_are_the_steps_trl_takes(tmp_path, algorithm):
    """GRPO and RLOO batch completions, num_generations per prompt: the count check prints is the one run."""
    recipe = rl_recipe(tmp_path, [{"function": "has_number"}], algorithm, max_steps=-1, num_train_epochs=1,
                       per_device_train_batch_size=4, gradient_accumulation_steps=2, logging_steps=1)
    recipe["data"].update(limit=13, split={"validation": 0.0, "test": 0.0})  # 13 prompts: rounds of 2 leave one out
    facts = toolkit.check(recipe)
    assert facts["examples_per_step"] == 8 and facts["step_unit"] == "sampled completions"
    result = toolkit.train(recipe)
    steps = max(row["step"] for row in json.loads((result.output_dir / "log_history.json").read_text()))
    assert steps == facts["optimizer_steps"] == 6  # 12 prompts x 4 completions / 8 per step


def test_a_completion_past_the_models_positions_is_refused_before_training(tmp_path, capsys):
    """TRL's RL trainers cut neither prompt nor completion: past GPT-2's positions a run would fail mid-way with a
    bare IndexError, so the run is refused at the start, naming the prompt and the numbers."""
    import yaml

    recipe = rl_recipe(tmp_path, [{"function": "has_number"}], max_completion_length=200)
    recipe["model"]["config"] = {**recipe["model"].get("config", {}), "n_positions": 64}
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "training.max_completion_length 200" in err and "the model has 64" in err, err
    assert not (tmp_path / "grpo").exists()
