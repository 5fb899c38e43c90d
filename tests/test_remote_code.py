"""Remote code stays off: a model folder that ships its own Python code (auto_map) is refused in one line by every
command that loads a model, even when someone at the terminal would answer transformers' "run the custom code?"
with y; it runs only when --trust-remote-code (in a recipe: model.trust_remote_code: true) asks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import toolkit
from conftest import ROOT, TINY_GPT2, classification_recipe
from toolkit.cli import main

CODE = """
from pathlib import Path

Path({marker!r}).write_text("the folder's own code ran")

from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel


class CustomConfig(GPT2Config):
    model_type = "custom_gpt2"


class CustomGPT2ForSequenceClassification(GPT2ForSequenceClassification):
    config_class = CustomConfig


class CustomGPT2LMHeadModel(GPT2LMHeadModel):
    config_class = CustomConfig
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    classifier = toolkit.train(classification_recipe(tmp / "c", TINY_GPT2, max_steps=2)).output_dir
    sft = {"task": "sft", "model": TINY_GPT2, "eval": {"generations": 0},
           "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 48, "limit": 32},
           "training": {"output_dir": str(tmp / "sft"), "max_steps": 2, "disable_tqdm": True}}
    return {"classifier": classifier, "causal LM": toolkit.train(sft).output_dir}


def with_code(run: Path, tmp_path: Path, architecture: str) -> tuple[Path, Path]:
    """A copy of a finished run whose config asks transformers to load its model from the folder's custom.py,
    and the file that code writes when it runs."""
    folder, marker = Path(shutil.copytree(run, tmp_path / "custom")), tmp_path / "code-ran"
    config = json.loads((folder / "config.json").read_text())
    auto = "AutoModelForSequenceClassification" if "Sequence" in architecture else "AutoModelForCausalLM"
    config.update(model_type="custom_gpt2", architectures=[architecture],
                  auto_map={"AutoConfig": "custom.CustomConfig", auto: f"custom.{architecture}"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(CODE.format(marker=str(marker)))
    return folder, marker


CLASSIFIER, LM = "CustomGPT2ForSequenceClassification", "CustomGPT2LMHeadModel"
COMMANDS = {"predict": ("classifier", CLASSIFIER, ["predict", "{folder}", "hello"]),
            "score": ("classifier", CLASSIFIER, ["score", "{folder}", "a reply"]),
            "eval": ("classifier", CLASSIFIER, ["eval", "{folder}"]),
            "generate": ("causal LM", LM, ["generate", "{folder}", "hello"]),
            "chat": ("causal LM", LM, ["chat", "{folder}"]),
            # refused before anything loads, so a classifier's copy named as a masked LM stands in for one
            "fill-mask": ("classifier", "CustomGPT2ForMaskedLM", ["fill-mask", "{folder}", "a [MASK] day"])}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_folder_that_ships_code(command, runs, tmp_path, capsys, monkeypatch):
    kind, architecture, argv = COMMANDS[command]
    folder, marker = with_code(runs[kind], tmp_path, architecture)
    # Whoever is asked whether to run the folder's code says yes (and the chat ends at its first question).
    monkeypatch.setattr("builtins.input", lambda prompt="": "y" if "custom code" in prompt else "")
    assert main([arg.format(folder=folder) for arg in argv]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "auto_map" in errors[0] and "--trust-remote-code" in errors[0] and str(folder) in errors[0]
    assert not marker.exists()


def test_a_recipe_model_that_ships_code_is_refused_unless_the_recipe_trusts_it(runs, tmp_path, capsys):
    folder, marker = with_code(runs["classifier"], tmp_path, CLASSIFIER)
    recipe = classification_recipe(tmp_path, {"name_or_path": str(folder)}, max_steps=1)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "auto_map" in err and "model.trust_remote_code: true" in err and not marker.exists()


def cli(tmp_path: Path, *argv: str, answer: str = "") -> subprocess.CompletedProcess:
    """The command in a process of its own, at a terminal that answers `answer` to any question; transformers
    keeps the code it imports under HF_MODULES_CACHE (here, in the test's folder)."""
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")}
    return subprocess.run([sys.executable, "-m", "toolkit", *argv], input=answer, capture_output=True, text=True,
                          env=env, timeout=300)


def test_answering_yes_at_the_terminal_runs_nothing_and_the_flag_runs_it(runs, tmp_path):
    folder, marker = with_code(runs["classifier"], tmp_path, CLASSIFIER)
    refused = cli(tmp_path, "predict", str(folder), "hello", answer="y\n")
    assert refused.returncode == 2 and "auto_map" in refused.stderr, refused.stderr[-2000:]
    assert not marker.exists()
    trusted = cli(tmp_path, "predict", str(folder), "hello", "--trust-remote-code")
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert marker.exists() and json.loads(trusted.stdout.splitlines()[0])["label"] in ("ham", "spam")
