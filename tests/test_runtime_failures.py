"""A saved run that cannot be used says so in one line (exit 2, no traceback): a deleted model or tokenizer file is
named, a pickle torch refuses is refused without torch's advice to turn its check off, and a chat template that
refuses the conversation is reported as such."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import toolkit
from conftest import ROOT, TINY_GPT2, classification_recipe
from toolkit.cli import main

INSTRUCTIONS = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("classifier")
    return toolkit.train(classification_recipe(tmp, TINY_GPT2, max_steps=2)).output_dir


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sft")
    recipe = {"task": "sft", "model": TINY_GPT2, "data": {"train": str(INSTRUCTIONS), "max_length": 48, "limit": 32},
              "eval": {"generations": 0},
              "training": {"output_dir": str(tmp / "run"), "max_steps": 2, "disable_tqdm": True}}
    return toolkit.train(recipe).output_dir


def copy_of(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "copy"))


def refused(capsys, *argv: str) -> str:
    """The one error line of a command that must fail with exit 2."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "tokenizer_config.json"])
def test_predict_names_the_file_deleted_from_the_run(name, classifier, tmp_path, capsys):
    folder = copy_of(classifier, tmp_path)
    (folder / name).unlink()
    line = refused(capsys, "predict", str(folder), "hello")
    assert name in line and str(folder) in line


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "tokenizer_config.json",
                                  "chat_template.jinja"])
def test_generate_names_the_file_deleted_from_the_run(name, chat_model, tmp_path, capsys):
    folder = copy_of(chat_model, tmp_path)
    (folder / name).unlink()
    line = refused(capsys, "generate", str(folder), "hello")
    assert name in line and str(folder) in line


def pickled_with_an_object(path: Path, tensors: dict) -> None:
    """A torch file whose pickle holds more than tensors: what torch.load(weights_only=True) refuses."""
    torch.save({**tensors, "note": argparse.Namespace(made_by="someone else")}, path)


def test_a_model_pickle_torch_refuses_is_one_line_without_its_advice(classifier, tmp_path, capsys):
    folder = copy_of(classifier, tmp_path)  # made a plain model folder, as one from elsewhere would be
    pickled_with_an_object(folder / "pytorch_model.bin", load_file(str(folder / "model.safetensors")))
    (folder / "model.safetensors").unlink()
    (folder / "run.json").unlink()
    line = refused(capsys, "predict", str(folder), "hello")
    assert "pytorch_model.bin" in line and "argparse.Namespace" in line
    assert "weights_only" not in line and "trust" not in line


def test_resuming_from_a_checkpoint_torch_refuses_is_one_line_without_its_advice(tmp_path, capsys):
    recipe = classification_recipe(tmp_path, TINY_GPT2, max_steps=4, save_steps=2, save_strategy="steps",
                                   eval_strategy="no")
    output = toolkit.train(recipe).output_dir
    (output / "run.json").unlink()  # as if the run had stopped after its first checkpoint
    shutil.rmtree(output / "checkpoint-4")
    optimizer = output / "checkpoint-2" / "optimizer.pt"
    pickled_with_an_object(optimizer, {})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    line = refused(capsys, "train", str(path), "--resume")
    assert str(optimizer) in line and "argparse.Namespace" in line
    assert "weights_only" not in line and "trust" not in line


BLOCKED = "{{ raise_exception('This model only answers system prompts') }}"


def test_a_chat_template_that_refuses_is_one_line(chat_model, tmp_path, capsys, monkeypatch):
    folder = copy_of(chat_model, tmp_path)
    (folder / "chat_template.jinja").write_text(BLOCKED)
    line = refused(capsys, "generate", str(folder), "hello")
    assert "This model only answers system prompts" in line and "chat template" in line and "--no-chat" in line
    assert main(["generate", str(folder), "hello", "--no-chat"]) == 0  # what the message offers works
    monkeypatch.setattr("builtins.input", lambda prompt="": "hello")
    line = refused(capsys, "chat", str(folder))
    assert "This model only answers system prompts" in line


def test_training_on_a_model_whose_chat_template_refuses_is_one_line(chat_model, tmp_path, capsys):
    folder = copy_of(chat_model, tmp_path)
    (folder / "chat_template.jinja").write_text(BLOCKED)
    recipe = {"task": "sft", "model": {"name_or_path": str(folder)},
              "data": {"train": str(INSTRUCTIONS), "max_length": 48, "limit": 16},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 1, "assistant_only_loss": False}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    line = refused(capsys, "train", str(path))
    assert "This model only answers system prompts" in line and "chat template" in line and str(folder) in line
