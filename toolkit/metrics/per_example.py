"""Held-out metrics with their evidence. Every metric the toolkit reports for a split is computed here from
one value per example (or pair) over the whole split, and those values are saved beside the metrics, one
JSONL row per example, so a reader can recount any number:

    examples_<split>.jsonl          after training
    examples_<split>_before.jsonl   the same examples before training

A task's evaluation returns its metrics with the rows under the key `per_example`; `split_off` takes them
out before metrics.json is written, and `write_all` saves them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from toolkit.files import write_atomic
from toolkit.run_folder import examples_file

ROWS = "per_example"  # the key under which an evaluation hands its rows to the writer




def read_examples(folder: Path, split: str, before: bool = False) -> list[dict]:
    path = examples_file(folder, split, before)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_examples(folder: Path, split: str, rows: list[dict], before: bool = False) -> Path:
    path = examples_file(folder, split, before)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def split_off(metrics: dict) -> dict[tuple[str, bool], list[dict]]:
    """Take the per-example rows out of a run's metrics ({split: {..., per_example: rows}} and the same under
    'before'), in place; returns {(split, before): rows}."""
    found = {}
    for before, block in ((False, metrics), (True, metrics.get("before") or {})):
        for split, values in block.items():
            if isinstance(values, dict) and ROWS in values:
                found[(split, before)] = values.pop(ROWS)
    return found


def write_all(folder: Path, found: dict[tuple[str, bool], list[dict]]) -> dict[str, Path]:
    """Save every split's rows; returns artifact name -> path."""
    artifacts = {}
    for (split, before), rows in found.items():
        path = write_examples(folder, split, rows, before)
        artifacts[path.stem] = path
    return artifacts


def outcome(first: float, second: float) -> str:
    """Which of a pair scored higher: 'chosen' (the first), 'rejected', or 'tie' when the scores are equal."""
    return "chosen" if first > second else "rejected" if first < second else "tie"


def pair_counts(outcomes: list[str]) -> dict:
    """Pairwise accuracy as correct / total over the whole split, with ties counted apart (a tie is not
    correct: the model did not prefer the chosen reply)."""
    total = len(outcomes)
    correct, ties = outcomes.count("chosen"), outcomes.count("tie")
    return {"accuracy": correct / total if total else float("nan"), "correct": correct, "ties": ties,
            "wrong": total - correct - ties, "pairs": total}


def mean(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def token_mean(nll_sums: list[float], counts: list[int]) -> float:
    """Mean loss per scored token over the whole split: summed negative log-likelihood / tokens scored."""
    tokens = sum(counts)
    return sum(nll_sums) / tokens if tokens else float("nan")


def full_precision_forward(model):
    """The model's own forward, without the mixed-precision wrapper accelerate puts on a prepared model: a
    held-out number must not depend on which of two models accelerate happened to prepare (bf16 on one side
    only turns identical weights into margins of float noise)."""
    return model.__dict__.get("_original_forward", model.forward)


def held_out_batches(trainer, dataset):
    """The split as the trainer's collator builds its batches, in order, whole on every process (held-out
    splits are small; every rank then holds the same numbers without a gather), tensors on the device."""
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=trainer.args.per_device_eval_batch_size, shuffle=False,
                        collate_fn=trainer.data_collator)
    device = trainer.accelerator.device
    for batch in loader:
        yield {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}
