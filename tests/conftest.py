"""Tiny models built in-process and the toy data that ships in the package: no hub, no network."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import toolkit  # noqa: E402  (after the offline switches: the hub client reads them on import)
from toolkit.data.paths import local_path  # noqa: E402

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


def tiny_model_for(model: dict) -> dict:
    family = model.get("architecture") or model.get("name_or_path", "")
    tiny = TINY_GPT2 if "gpt2" in family or "llama" in family else TINY_BERT  # decoders: GPT-2 stands in
    kept = {key: model[key] for key in ("trainable_layers",) if key in model}
    return {**tiny, **kept}


def data_like(task: str, data: dict, tmp_path: Path) -> dict:
    """Keep shipped data; stand in for files a user brings (e.g. the SMS TSV) with toy rows in their shape."""
    text_column, label_column = data.get("text_column", "text"), data.get("label_column", "label")
    if task in ("sft", "rlhf"):
        instructions = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"
        rows = [json.loads(line) for line in instructions.read_text(encoding="utf-8").splitlines()]
    else:
        rows = [{label_column: row["label"], text_column: row["text"]} for row in toy_rows()[:200]]
    data = dict(data)
    for split in ("train", "validation", "test"):
        spec = data.get(split)
        try:
            if not spec or local_path(spec, split) is not None:
                continue
        except toolkit.ToolkitError:
            pass
        path = tmp_path / f"{split}{Path(spec).suffix}"
        if path.suffix in (".json", ".jsonl"):
            write_jsonl(path, rows)
        else:
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, [label_column, text_column],
                                        delimiter="\t" if path.suffix == ".tsv" else ",")
                writer.writeheader()
                writer.writerows(rows)
        data[split] = str(path)
    if data.get("mixture"):  # hub sources (e.g. GSM8K's question/answer): toy rows under the source's own columns
        sources = []
        for i, source in enumerate(data["mixture"]["datasets"]):
            columns = list(source.get("columns") or ["prompt", "completion"])
            toy = [{column: f"{row['instruction']} #### {n}" for column in columns} for n, row in enumerate(rows)]
            sources.append({**source, "id": str(write_jsonl(tmp_path / f"mixture{i}.jsonl", toy)), "config": None})
        data["mixture"] = {**data["mixture"], "datasets": sources}
    return data


def tiny_recipe(path: Path, tmp_path: Path, steps: int = 3) -> dict:
    """A shipped recipe with its model swapped for a tiny one of its family, a few steps on a small slice."""
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["model"] = tiny_model_for(raw["model"])
    raw["data"] = {**data_like(raw["task"], raw["data"], tmp_path), "limit": 64}
    raw["training"].update(max_steps=steps, output_dir=str(tmp_path / "run"), disable_tqdm=True)
    if raw.get("rl"):
        # A reward model folder comes from an earlier stage; test_rl runs that path. Here: a built-in check.
        raw["rl"]["rewards"] = [r if "function" in r else {"function": "has_number"} for r in raw["rl"]["rewards"]]
        raw["training"].update(per_device_train_batch_size=4, num_generations=4)
        # The tiny model has 128 positions: prompt and completion must fit (GSM8K's recipe asks 160 tokens)
        raw["training"]["max_completion_length"] = min(raw["training"].get("max_completion_length", 32), 32)
        raw["rl"]["preflight"] = "warn"  # a tiny untrained policy gets no answer right: the preflight would refuse it
    return raw


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path, monkeypatch):
    """Runs write relative paths (runs/...) into the test's own folder, never the checkout."""
    monkeypatch.chdir(tmp_path)
