"""The README's RL headline, reproduced: the reversal demo as shipped, on two seeds, must leave the SFT stage
part-way (RL needs right and wrong replies to compare) and GRPO must then raise held-out exact match."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT
from toolkit.cli import main

# Measured on seeds 1, 7, 42 (benchmarks/RESULTS.md), held-out exact match on 100 sequences, greedy:
#   SFT end 0.41 / 0.47 / 0.51; GRPO 0.40 -> 0.93, 0.46 -> 0.90, 0.51 -> 0.91 (rise +0.40 to +0.53).
# The bands leave 0.2 or more of margin on each side of what was measured; the demo as it shipped before
# (GPT-2, 200 sequences) ended SFT at 0.00-0.02 on seeds 1 and 7 and fails the first band.
SFT_BAND = (0.2, 0.75)
GRPO_FLOOR = 0.7
RISE_FLOOR = 0.2


def metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 7])
def test_reversal_demo_learns_then_rl_raises_exact_match(seed, tmp_path):
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")  # runs/ lands in tmp_path, the test's own folder
    assert main(["train", "recipes/pipelines/reversal-rl-demo.yaml", f"training.seed={seed}"]) == 0

    sft = metrics(tmp_path / "runs/llama-tiny-reversal")["generations"]["after"]["exact_match"]
    grpo = metrics(tmp_path / "runs/llama-tiny-reversal-grpo")
    start, end = grpo["before"]["test"]["rewards"]["exact_text"], grpo["test"]["rewards"]["exact_text"]
    assert SFT_BAND[0] <= sft <= SFT_BAND[1], f"seed {seed}: SFT ends at {sft}, outside {SFT_BAND}"
    assert SFT_BAND[0] <= start <= SFT_BAND[1], f"seed {seed}: GRPO starts at {start}"
    assert end >= GRPO_FLOOR and end - start >= RISE_FLOOR, f"seed {seed}: GRPO {start} -> {end}"
    assert grpo["reward_preflight"]["verdict"] == "pass", grpo["reward_preflight"]  # the preflight lets it learn
