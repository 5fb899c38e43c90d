"""The arithmetic RL demo (recipes/pipelines/arithmetic-rl-demo.yaml) and the GSM8K recipes: numbers reach the
model digit by digit, the GSM8K recipes read the data as published, and the demo's measured outcome holds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import toolkit
from conftest import ROOT
from toolkit.recipe import load_recipe

ASSETS = ROOT / "toolkit" / "assets"
GSM8K_SFT = ROOT / "recipes" / "sft" / "gpt2-tiny-gsm8k.yaml"
GSM8K_GRPO = ROOT / "recipes" / "rlhf" / "gpt2-tiny-gsm8k-grpo.yaml"


def test_arithmetic_tokenizer_reads_numbers_digit_by_digit():
    """The SFT recipe's vocab_size is what keeps BPE from merging two digits into one token, which is what
    lets the model learn sums it never saw (with whole-number tokens it learned them only to within 1 or 2)."""
    from toolkit.tokenizer import train_bpe

    recipe = load_recipe(ROOT / "recipes" / "sft" / "gpt2-tiny-arithmetic.yaml")
    rows = [json.loads(line) for line in (ASSETS / "arithmetic_sft.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [text for row in rows for text in (row["prompt"], row["completion"])]  # what the SFT task trains it on
    tokenizer = train_bpe(texts, recipe.model.tokenizer.vocab_size, recipe.model.tokenizer.min_frequency)
    merged = [token for token in tokenizer.get_vocab() if sum(ch.isdigit() for ch in token) > 1]
    assert not merged, f"tokens holding two digits: {merged}"
    pieces = [tokenizer.decode([i]) for i in tokenizer("\n16 + 29 = 45\n#### 45")["input_ids"]]
    assert pieces == ["\n", "1", "6", " +", " 2", "9", " =", " 4", "5", "\n", "####", " 4", "5"], pieces


def gsm8k_stage(path: Path, local_file: Path) -> dict:
    """The recipe as a mapping, reading the local copy of GSM8K's train file instead of the hub's."""
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = recipe["data"]["mixture"]["datasets"][0]
    recipe["data"]["mixture"]["datasets"] = [{"id": str(local_file), "columns": source["columns"]}]
    return recipe


def test_gsm8k_recipes_name_the_published_dataset():
    for path, gold in ((GSM8K_SFT, "completion"), (GSM8K_GRPO, "answer")):
        source = load_recipe(path).data.mixture.datasets[0]
        assert (source.id, source.config, source.split) == ("openai/gsm8k", "main", "train")
        assert source.columns == {"question": "prompt", "answer": gold}  # the published answer, unedited


def test_gsm8k_recipes_check_on_the_real_data(tmp_path):
    """Needs the published file: TOOLKIT_REAL_DATA names a folder holding gsm8k/train.jsonl."""
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if not real:
        pytest.skip("TOOLKIT_REAL_DATA is not set: GSM8K's train file is not here")
    local = Path(real) / "gsm8k" / "train.jsonl"
    sft, grpo = gsm8k_stage(GSM8K_SFT, local), gsm8k_stage(GSM8K_GRPO, local)
    for recipe, name in ((sft, "sft"), (grpo, "grpo")):
        recipe["training"]["output_dir"] = str(tmp_path / name)
    grpo["model"]["name_or_path"] = str(tmp_path / "sft")

    stages = toolkit.check({"pipeline": [sft, grpo]})
    assert stages[0]["task"] == "sft" and "from an earlier stage" in stages[1]["model"]

    from toolkit.data.splits import finish_splits, read_splits

    held_out = []
    for recipe in (sft, grpo):
        loaded = load_recipe(recipe)
        held_out.append(finish_splits(read_splits(loaded), loaded)["test"]["prompt"])
    assert len(held_out[0]) == 374 and len(held_out[1]) == 64
    assert held_out[1] == held_out[0][:64]  # GRPO evaluates on rows the SFT stage never trained on
    assert all(answer.rsplit("####", 1)[1].strip() for answer in
               finish_splits(read_splits(load_recipe(grpo)), load_recipe(grpo))["train"]["answer"])


@pytest.mark.slow
def test_arithmetic_pipeline_outcome(tmp_path):
    """The pipeline on seed 42, one thread: about 2.5 minutes alone. Measured on seeds 1, 7, 42 (RESULTS.md):
    SFT held-out exact match 0.837 / 0.689 / 0.807 (135 unseen sums), GRPO's change -0.007 / +0.007 / -0.015
    (flat: it sharpens its own prompts, see the GRPO recipe), TRL's frac_reward_zero_std 0.5 at the first logged
    step and 0.48-0.63 over the first four. Seed 42's margins to the bands: start 0.107 / 0.103, change 0.085,
    no-spread share 0.125; the checker-agreement band is a definition (0.000 measured; 0.007 on seed 7)."""
    pipeline = yaml.safe_load((ROOT / "recipes" / "pipelines" / "arithmetic-rl-demo.yaml").read_text(encoding="utf-8"))
    stages = [yaml.safe_load((ROOT / path).read_text(encoding="utf-8")) for path in pipeline["pipeline"]]
    stages[0]["training"].update(output_dir=str(tmp_path / "sft"), disable_tqdm=True)
    stages[1]["training"].update(output_dir=str(tmp_path / "grpo"), disable_tqdm=True)
    stages[1]["model"]["name_or_path"] = str(tmp_path / "sft")

    sft, grpo = toolkit.train({"pipeline": stages})
    start = sft.metrics["generations"]["after"]["exact_match"]
    before, after = grpo.metrics["before"]["test"]["total"], grpo.metrics["test"]["total"]
    assert 0.7 <= start <= 0.91, start  # most unseen sums right, not all: spread for RL
    assert abs(before - start) < 0.02, (before, start)  # GRPO's checker agrees with SFT's exact match
    assert abs(after - before) < 0.1, (before, after)  # flat, as measured: no gain claimed
    first = [row["frac_reward_zero_std"] for row in json.loads((tmp_path / "grpo" / "log_history.json").read_text())
             if "frac_reward_zero_std" in row][:4]
    assert sum(first) / len(first) < 0.75, first  # groups with reward spread: RL has something to learn from
    # ...yet the preflight flags it: the goal (gsm8k) has no spread in more than 60% of the groups (0.75 measured)
    assert grpo.metrics["reward_preflight"]["verdict"] == "warn", grpo.metrics["reward_preflight"]
