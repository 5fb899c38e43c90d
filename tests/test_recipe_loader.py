"""Loading recipes: YAML quirks, dotted overrides from the CLI and from Python, one schema."""

from __future__ import annotations

import pytest
import yaml

import toolkit
from conftest import TINY_GPT2, classification_recipe
from toolkit.recipe import apply_overrides, load_recipe, parse_overrides, recipe_text
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


# YAML 1.1 reads a plain no/off/yes/on (No, OFF too) as a boolean. A field that takes a word gets the word as written,
# as TRL's command line (--eval_strategy no) gets it; a true/false field still reads a boolean.

def test_yaml_boolean_words_are_the_words_written_where_a_field_takes_a_word(tmp_path):
    path = tmp_path / "r.yaml"
    text = yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2))
    text = text.replace("training:\n", "training:\n  eval_strategy: no\n  save_strategy: NO\n  bf16: no\n")
    text = text.replace("data:\n", "data:\n  text_column: Off\n")
    path.write_text(text.replace("    test: 0.2\n", "    test: 0.2\n    shuffle: off\n") + "overwrite: yes\n")
    loaded = load_recipe(path)
    assert loaded.training["eval_strategy"] == "no" and loaded.training["save_strategy"] == "NO"  # as written
    assert loaded.training["bf16"] is False and loaded.overwrite is True and loaded.data.split.shuffle is False
    assert loaded.data.text_column == "Off"
    with pytest.raises(toolkit.ToolkitError, match=r"training: NO is not a valid SaveStrategy, .*'no'"):
        build_training_args(loaded, FACTS.config_class, FACTS.defaults)
    loaded.training["save_strategy"] = "no"
    args = build_training_args(loaded, FACTS.config_class, FACTS.defaults)
    assert args.eval_strategy == "no" and args.save_strategy == "no" and args.bf16 is False
    assert "eval_strategy: 'no'" in recipe_text(loaded)  # the run's saved recipe reads back the same


def test_cli_overrides_give_yaml_boolean_words_as_written(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2, eval_strategy="steps")
    loaded = load_recipe(recipe, ["training.eval_strategy=no", "training.bf16=no", "training.logging_strategy=off",
                                  "data.text_column=YES", "overwrite=yes"])
    assert loaded.training["eval_strategy"] == "no" and loaded.training["logging_strategy"] == "off"
    assert loaded.training["bf16"] is False and loaded.overwrite is True and loaded.data.text_column == "YES"
    with pytest.raises(toolkit.ToolkitError, match=r"training: off is not a valid IntervalStrategy, .*'no'"):
        build_training_args(loaded, FACTS.config_class, FACTS.defaults)


def test_an_override_replaces_the_word_a_recipe_file_wrote(tmp_path):
    path = tmp_path / "r.yaml"
    text = yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2))
    path.write_text(text.replace("training:\n", "training:\n  eval_strategy: no\n"))
    assert load_recipe(path, ["training.eval_strategy=epoch"]).training["eval_strategy"] == "epoch"
    assert load_recipe(path, {"training.eval_strategy": False}).training["eval_strategy"] is False  # Python's own


def test_pipeline_stages_take_yaml_boolean_words_from_the_command_line(tmp_path):
    from toolkit.pipeline import load_stages

    stage = tmp_path / "stage.yaml"
    stage.write_text(yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2)))
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"pipeline": [str(stage)]}))
    [loaded] = load_stages(pipeline, ["training.save_strategy=no"])
    assert loaded.training["save_strategy"] == "no"


def test_the_recipe_as_run_leaves_out_data_keys_its_task_never_reads(tmp_path):
    classifier = load_recipe(classification_recipe(tmp_path, TINY_GPT2)).to_dict()["data"]
    assert classifier["label_column"] == "label" and classifier["text_column"] == "text"
    sft = load_recipe({**classification_recipe(tmp_path, TINY_GPT2), "task": "sft"}).to_dict()["data"]
    assert "label_column" not in sft and "text_column" not in sft and sft["max_length"] == 48
