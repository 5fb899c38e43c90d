"""The judge's win rate on a toy case with a known answer, and `toolkit compare --judge` end to end on real
runs judged by a real (tiny) reward model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl
from toolkit.metrics.judge import first_number, win_rate

ASSETS = ROOT / "toolkit" / "assets"


def test_win_rate_counts_a_tie_as_half_and_brackets_itself():
    result = win_rate([3, 2, 1, 5], [1, 2, 3, 0])
    assert (result["win_rate"], result["wins"], result["ties"], result["losses"]) == (0.625, 2, 1, 1)
    assert 0 <= result["low"] <= 0.625 <= result["high"] <= 1
    sure = win_rate([1.0] * 20, [0.0] * 20)
    assert (sure["win_rate"], sure["low"], sure["high"]) == (1.0, 1.0, 1.0)
    assert win_rate([1, 0] * 50, [0, 1] * 50, seed=3) == win_rate([1, 0] * 50, [0, 1] * 50, seed=3)  # seeded


def test_a_language_model_judges_reply_is_read_for_its_first_score():
    assert first_number("85") == 85.0 and first_number("Score: 7/10") == 7.0
    assert first_number("I cannot say") is None and first_number("250") is None


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (ASSETS / name).read_text(encoding="utf-8").splitlines()]


def run(tmp_path, name: str, recipe: dict) -> str:
    recipe["training"] = {"output_dir": str(tmp_path / name), "disable_tqdm": True, "seed": 0, **recipe["training"]}
    return str(toolkit.train(recipe).output_dir)


@pytest.mark.slow
def test_compare_with_a_reward_model_judge_reports_a_win_rate_recounted_from_its_rows(tmp_path):
    instructions = rows("toy_instructions.jsonl")
    train = str(write_jsonl(tmp_path / "train.jsonl", instructions[:24]))
    test = str(write_jsonl(tmp_path / "test.jsonl", instructions[24:32]))
    judge = run(tmp_path, "judge", {"task": "reward", "model": dict(TINY_GPT2),
                                    "data": {"train": str(ASSETS / "toy_preferences.jsonl"), "max_length": 64},
                                    "training": {"max_steps": 4, "per_device_train_batch_size": 8}})
    sft = {"task": "sft", "model": dict(TINY_GPT2), "data": {"train": train, "test": test, "max_length": 64},
           "eval": {"judge": judge, "max_new_tokens": 12}}
    trained = run(tmp_path, "trained", {**sft, "training": {"max_steps": 30, "learning_rate": 3e-3}})
    barely = run(tmp_path, "barely", {**sft, "training": {"max_steps": 1, "learning_rate": 1e-5}})

    generations = [json.loads(line) for line in open(os.path.join(trained, "generations.jsonl"))]
    assert len(generations) == 8 and all("judge" in row["after"] for row in generations)  # eval.judge scored them
    done = subprocess.run([sys.executable, "-m", "toolkit", "compare", trained, barely, "--judge", judge,
                           "--output", str(tmp_path / "page.html")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    judged = toolkit.judge_runs(trained, barely, judge)
    points = [1.0 if r["first_score"] > r["second_score"] else 0.5 if r["first_score"] == r["second_score"] else 0.0
              for r in judged["rows"]]
    assert judged["win_rate"] == pytest.approx(sum(points) / len(points)) and judged["prompts"] == 8
    assert f"wins {judged['win_rate']:.1%}" in done.stdout
    assert "Judged by" in (tmp_path / "page.html").read_text()


@pytest.mark.slow
def test_a_language_model_judge_that_gives_no_score_is_one_clear_error(tmp_path):
    instructions = rows("toy_instructions.jsonl")
    data = {"train": str(write_jsonl(tmp_path / "train.jsonl", instructions[:8])),
            "test": str(write_jsonl(tmp_path / "test.jsonl", instructions[8:12])), "max_length": 64}
    model = {**TINY_GPT2, "config": {**TINY_GPT2["config"], "n_positions": 512}}  # room for the rubric
    first = run(tmp_path, "a", {"task": "sft", "model": model, "data": data,
                                "eval": {"max_new_tokens": 4}, "training": {"max_steps": 1}})
    second = run(tmp_path, "b", {"task": "sft", "model": model, "data": data,
                                 "eval": {"max_new_tokens": 4}, "training": {"max_steps": 2}})
    with pytest.raises(toolkit.ToolkitError) as caught:
        toolkit.judge_runs(first, second, first)  # an untrained tiny LM writes no number from 0 to 100
    assert "gave no usable score" in str(caught.value) and "position table" not in str(caught.value)
