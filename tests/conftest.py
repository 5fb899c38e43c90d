"""Tiny models built in-process and the toy data that ships in the package: no hub, no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
TOY_SMS = ROOT / "toolkit" / "assets" / "toy_sms.jsonl"

TINY_GPT2 = {"architecture": "gpt2", "tokenizer": {"vocab_size": 500},
             "config": {"n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": 128}}
TINY_BERT = {"architecture": "bert", "tokenizer": {"vocab_size": 500},
             "config": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2,
                        "intermediate_size": 128, "max_position_embeddings": 128}}


def toy_rows() -> list[dict]:
    return [json.loads(line) for line in TOY_SMS.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def classification_recipe(tmp_path: Path, model: dict, **training) -> dict:
    """A small, fast classification recipe on the toy SMS set: 560 train / 80 val / 160 test rows."""
    return {
        "task": "classification",
        "model": dict(model),
        "data": {"train": str(TOY_SMS), "split": {"validation": 0.1, "test": 0.2}, "max_length": 48},
        "training": {"output_dir": str(tmp_path / "run"), "num_train_epochs": 2,
                     "per_device_train_batch_size": 16, "learning_rate": 2e-3, "logging_steps": 5,
                     "seed": 0, "disable_tqdm": True, **training},
    }


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path, monkeypatch):
    """Runs write relative paths (runs/...) into the test's own folder, never the checkout."""
    monkeypatch.chdir(tmp_path)
