"""Every shipped recipe parses, and runs a few steps with its model swapped for a tiny one of its family."""

from __future__ import annotations

import math

import pytest

import toolkit
from conftest import ROOT, tiny_recipe

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
