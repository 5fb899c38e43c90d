"""The reward preflight before online RL: its numbers on cases with known spread, the unparsed share of a checker
with `parse`, a run that is the same with it and without it, the recipe setting's checks, and (slow) the verdict
on the shipped arithmetic and reversal pairs."""

from __future__ import annotations

import json
import random

import numpy
import pytest
import torch
import yaml

import toolkit
from conftest import ROOT, TINY_GPT2
from toolkit.cli import main
from toolkit.errors import ToolkitError
from toolkit.recipe import PreflightSpec, load_recipe, preflight_settings
from toolkit.rl_preflight import figures, kept_random_state, no_spread_share
from toolkit.tasks import get_task

PROMPTS = str(ROOT / "toolkit" / "assets" / "arithmetic_rl.jsonl")
REWARDS = '''
import re


def constant(prompts, completions, **_):
    return [1.0] * len(completions)


def reply(completion):
    return completion if isinstance(completion, str) else completion[0]["content"]


def digit(text):
    found = re.search(r"[0-9]", text)
    return found.group(0) if found else None


def has_digit(prompts, completions, **_):
    return [float(digit(reply(c)) is not None) for c in completions]


has_digit.parse = digit


def never_read(prompts, completions, **_):
    return [0.0] * len(completions)


never_read.parse = lambda text: None
'''


@pytest.fixture
def preflight_rewards(tmp_path, monkeypatch):
    (tmp_path / "preflight_rewards.py").write_text(REWARDS)
    monkeypatch.syspath_prepend(str(tmp_path))


def rl_recipe(tmp_path, rewards: list, preflight="refuse", **training) -> dict:
    return {"task": "rlhf", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 300}},
            "data": {"train": PROMPTS}, "rl": {"rewards": rewards, "preflight": preflight},
            "training": {"output_dir": str(tmp_path / "grpo"), "max_steps": 4, "per_device_train_batch_size": 8,
                         "num_generations": 4, "max_completion_length": 8, "learning_rate": 1e-2,
                         "logging_steps": 1, "disable_tqdm": True, "seed": 0, **training}}


def numbers_of(recipe: dict) -> dict:
    loaded = load_recipe(recipe)
    return figures(get_task("rlhf", loaded.source).prepare(loaded))


def test_no_spread_share_counts_groups_scored_alike():
    assert no_spread_share([1, 1, 0, 1, 2, 2, 2, 2], 4) == 0.5
    assert no_spread_share([float("nan"), 0.0, 0.0, 1.0], 2) == 0.5  # a None (NaN) counts as 0, as in TRL's sum


def test_constant_reward_is_refused_before_anything_is_written(tmp_path, preflight_rewards, capsys):
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(rl_recipe(tmp_path, [{"function": "preflight_rewards:constant"}],
                                             preflight={"prompts": 8})))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "reward preflight (8 prompts x 4 samples" in err and "no spread in 100% of groups" in err, err
    assert "rl.preflight: warn" in err and "higher training.temperature" in err
    assert not (tmp_path / "grpo").exists()


def test_a_refused_overwrite_leaves_the_finished_run_in_place(tmp_path, preflight_rewards):
    finished = toolkit.train(rl_recipe(tmp_path, [{"function": "digit_share"}], max_steps=1)).output_dir
    kept = sorted(path.name for path in finished.iterdir())
    with pytest.raises(ToolkitError, match="no spread in 100% of groups"):
        toolkit.train({**rl_recipe(tmp_path, [{"function": "preflight_rewards:constant"}]), "overwrite": True})
    assert sorted(path.name for path in finished.iterdir()) == kept and (finished / "run.json").is_file()


def test_digit_share_on_a_tiny_policy_has_spread_and_passes(tmp_path):
    numbers = numbers_of(rl_recipe(tmp_path, [{"function": "digit_share"}]))
    assert numbers["prompts"] == 32 and numbers["generations"] == 4
    assert numbers["total_no_spread"] < 0.5, numbers
    assert numbers["rewards"]["digit_share"]["no_spread"] == numbers["total_no_spread"]
    assert "unparsed" not in numbers["rewards"]["digit_share"]  # no parse attribute: no share


def test_unparsed_share_of_a_checker_with_parse(tmp_path, preflight_rewards):
    numbers = numbers_of(rl_recipe(tmp_path, [{"function": "preflight_rewards:has_digit"},
                                              {"function": "preflight_rewards:never_read", "weight": 0.5}]))
    read, never = numbers["rewards"]["preflight_rewards:has_digit"], numbers["rewards"]["preflight_rewards:never_read"]
    assert 0 < read["unparsed"] < 1, read  # a random tiny policy writes a digit in some replies, not all
    assert read["mean"] == pytest.approx(1 - read["unparsed"], abs=1e-3)  # scored 1 exactly where parse read one
    assert never["unparsed"] == 1.0 and never["no_spread"] == 1.0


def test_a_run_with_the_preflight_equals_one_without(tmp_path, capsys):
    """Same per-step loss and reward: the preflight samples from its own seed and puts every random state back."""
    histories = {}
    for setting in ("refuse", "off"):
        result = toolkit.train(rl_recipe(tmp_path / setting, [{"function": "digit_share"}], preflight=setting))
        said = capsys.readouterr().out
        assert ("in the preflight" in said and "during training (TRL's frac_reward_zero_std)" in said) == (
            setting == "refuse"), said
        histories[setting] = [{key: row[key] for key in ("loss", "reward", "reward_std") if key in row}
                              for row in json.loads((result.output_dir / "log_history.json").read_text())]
        assert ("reward_preflight" in result.metrics) == (setting == "refuse")
    assert histories["refuse"] == histories["off"] and len(histories["off"]) >= 4


def test_random_states_are_put_back():
    def draws():
        return random.random(), numpy.random.rand(), torch.rand(1).item()

    random.seed(1), numpy.random.seed(1), torch.manual_seed(1)
    expected = draws()
    random.seed(1), numpy.random.seed(1), torch.manual_seed(1)
    with kept_random_state():
        draws(), torch.manual_seed(5)
    assert draws() == expected


@pytest.mark.parametrize("value, fragment", [
    ("refsue", "did you mean 'refuse'"),
    ({"refuse_abve": 0.5}, "did you mean 'refuse_above'"),
    ({"refuse_above": 1.5}, "from 0 to 1"),
    ({"warn_above": 0.9, "refuse_above": 0.8}, "keep warn_above at or below it"),
    ({"prompts": 0}, "at least 1 prompt"),
])
def test_bad_preflight_setting_is_one_clear_message(tmp_path, value, fragment):
    with pytest.raises(ToolkitError, match="rl.preflight") as error:
        load_recipe(rl_recipe(tmp_path, [{"function": "digit_share"}], preflight=value))
    assert fragment in str(error.value)


def test_preflight_words_from_yaml(tmp_path):
    path = tmp_path / "rl.yaml"
    recipe = rl_recipe(tmp_path, [{"function": "digit_share"}])
    for word, expected in (("off", None), ("warn", None), ("refuse", PreflightSpec().refuse_above)):
        recipe["rl"]["preflight"] = word
        path.write_text(yaml.safe_dump(recipe).replace(f"preflight: '{word}'", f"preflight: {word}"))
        settings = preflight_settings(load_recipe(path).rl)
        assert (settings if word == "off" else settings.refuse_above) == expected
    assert preflight_settings(load_recipe(path, ["rl.preflight=off"]).rl) is None  # the command line's word too


def test_check_runs_the_preflight_on_request(tmp_path, capsys):
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(rl_recipe(tmp_path, [{"function": "digit_share"}], preflight={"prompts": 8})))
    assert main(["check", str(path), "--preflight"]) == 0
    out = capsys.readouterr().out
    assert "reward preflight (8 prompts x 4 samples" in out and "-> RL can learn from it" in out, out
    assert yaml.safe_load(out.split("\n", 1)[1])["would run"]["preflight"]["verdict"] == "pass"
    assert not (tmp_path / "grpo").exists()


# The shipped pairs: the arithmetic pair is flagged (tests/test_arithmetic_demo.py) and the reversal pair
# passes (tests/test_rl_demos.py), each asserted on the run its own slow test trains.
