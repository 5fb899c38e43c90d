"""Every shipped recipe parses, and runs a few steps with its model swapped for a tiny one of its family."""

from __future__ import annotations

import json
import math
import tempfile

import pytest

import toolkit
from conftest import ROOT, tiny_recipe
from toolkit.tasks import get_task

RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if not {"accelerate", "pipelines"} & set(p.parts))


def test_recipes_exist():
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(ROOT / "recipes")) for p in RECIPES])
def test_recipe_opens_with_its_command_and_parses(path):
    text = path.read_text(encoding="utf-8")
    header = text.split("\ntask:")[0]
    assert text.startswith("#") and ("toolkit train recipes/" in header or "python benchmarks/" in header)
    recipe = toolkit.load_recipe(path)
    assert recipe.task and recipe.training.get("output_dir", "").startswith("runs/")


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(ROOT / "recipes")) for p in RECIPES])
def test_recipe_runs_a_few_steps_on_a_tiny_model(path, tmp_path):
    result = toolkit.train({**tiny_recipe(path, tmp_path), "__source__": str(path)})
    assert (result.output_dir / "run.json").is_file()
    assert (result.output_dir / "model.safetensors").is_file()
    assert math.isfinite(result.metrics["train_loss"])  # RL losses may be negative
    declared = get_task(toolkit.load_recipe(path).task, str(path)).FACTS.metrics
    for split in ("validation", "test"):
        if split in result.metrics:
            assert set(declared) <= set(result.metrics[split]), (split, declared)  # the task's declared metrics hold
    task = toolkit.load_recipe(path).task
    if task in GENERATIVE:  # greedy answers before and after, every row saved, the means recounted from them
        rows = [json.loads(line) for line in (result.output_dir / "generations.jsonl").read_text().splitlines()]
        summary = result.metrics["generations"]
        assert len(rows) == summary["prompts"] > 0
        for when in ("before", "after"):
            assert summary[when]["length"] == pytest.approx(sum(row[when]["length"] for row in rows) / len(rows))
            assert {"stopped", "distinct_1", "longest_repeat"} <= set(summary[when])
    else:
        assert not (result.output_dir / "generations.jsonl").exists()


GENERATIVE = ("sft", "dpo", "kto", "orpo", "rlhf")


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(ROOT / "recipes")) for p in RECIPES])
def test_check_leaves_the_temp_folder_as_it_was(path, tmp_path, monkeypatch):
    """check is read-only: nothing in the temp folder (an RL reference copy was left there once), TRL's
    module state as shipped."""
    import trl.trainer.utils as trl_utils

    shipped = (trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    raw = tiny_recipe(path, tmp_path)
    if raw["task"] == "rlhf":
        raw["training"]["beta"] = 0.04  # the setting that needs a reference model
    toolkit.check({**raw, "__source__": str(path)})
    assert list(temp.iterdir()) == []
    assert (trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE) == shipped
