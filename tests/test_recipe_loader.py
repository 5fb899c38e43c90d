"""Loading recipes: YAML quirks, dotted overrides from the CLI and from Python, one schema."""

from __future__ import annotations

import pytest
import yaml

import toolkit
from conftest import TINY_GPT2, classification_recipe
from toolkit.recipe import apply_overrides, load_recipe, parse_overrides
from toolkit.trainer_args import build_training_args
from toolkit.tasks.classification import FACTS


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "r.yaml"
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    path.write_text(yaml.safe_dump(recipe).replace("learning_rate: 0.002", "learning_rate: 1e-4"))
    loaded = load_recipe(path)
    assert loaded.training["learning_rate"] == "1e-4"  # what PyYAML hands us
    assert build_training_args(loaded, FACTS.config_class, FACTS.defaults).learning_rate == 1e-4


def test_cli_overrides_are_typed_and_nested():
    parsed = parse_overrides(["training.learning_rate=1e-4", "data.labels=[ham, spam]", "overwrite=true",
                              "model.config.n_layer=3"])
    assert parsed == {"training.learning_rate": "1e-4", "data.labels": ["ham", "spam"], "overwrite": True,
                      "model.config.n_layer": 3}
    merged = apply_overrides({"model": {"config": {"n_embd": 8}}}, parsed)
    assert merged["model"]["config"] == {"n_embd": 8, "n_layer": 3}
    assert merged["training"]["learning_rate"] == "1e-4"


def test_python_keyword_overrides_match_cli_overrides(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    from_kwargs = toolkit.api._merge(None, {"training__seed": 7, "data__max_length": 32})
    assert load_recipe(recipe, from_kwargs) == load_recipe(recipe, ["training.seed=7", "data.max_length=32"])


def test_recipe_round_trips_through_yaml(tmp_path):
    loaded = load_recipe(classification_recipe(tmp_path, TINY_GPT2))
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump(loaded.to_dict()))
    again = load_recipe(path)
    assert again.to_dict() == loaded.to_dict()


def test_bad_override_syntax():
    with pytest.raises(toolkit.ToolkitError, match="key=value"):
        parse_overrides(["training.learning_rate"])


def test_cli_takes_overrides_before_and_after_flags(tmp_path, capsys):
    from toolkit.cli import main

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2)))
    assert main(["check", str(path), "training.seed=3", "data.limit=40"]) == 0
    assert main(["train", str(path), "--overwrite", "training.max_steps=1", "data.limit=40"]) == 0
    assert "examples_per_step" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", str(path), "--overwirte"])


def test_the_recipe_as_run_leaves_out_data_keys_its_task_never_reads(tmp_path):
    from conftest import TINY_GPT2, classification_recipe

    classifier = load_recipe(classification_recipe(tmp_path, TINY_GPT2)).to_dict()["data"]
    assert classifier["label_column"] == "label" and classifier["text_column"] == "text"
    sft = load_recipe({**classification_recipe(tmp_path, TINY_GPT2), "task": "sft"}).to_dict()["data"]
    assert "label_column" not in sft and "text_column" not in sft and sft["max_length"] == 48
