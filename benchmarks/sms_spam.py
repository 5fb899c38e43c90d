"""SMS spam, the book's protocol, through a toolkit recipe: balanced subset, 70/10/20 split, MiniLM BERT.

    TOOLKIT_REAL_DATA=../shared/data python benchmarks/sms_spam.py [overrides...]

Balanced subset: all 747 spam and 747 ham drawn at random (seed 123), shuffled, split 70/10/20
(1,045 / 149 / 300). Prints validation and test accuracy and the wall time of the whole run.
Published references on this protocol: GPT-2 small 95.67% test, GPT-2 XL 98.67%.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "classification" / "minilm-sms-spam.yaml"


def balanced_splits(tsv: Path, seed: int = 123) -> dict[str, list[dict]]:
    with tsv.open(encoding="utf-8", newline="") as handle:
        rows = [{"text": row["SMS"], "label": row["Label"]} for row in csv.DictReader(handle, delimiter="\t")]
    spam = [row for row in rows if row["label"] == "spam"]
    rng = random.Random(seed)
    ham = rng.sample([row for row in rows if row["label"] == "ham"], len(spam))
    balanced = spam + ham
    rng.shuffle(balanced)
    n_train, n_val = int(0.7 * len(balanced)), int(0.1 * len(balanced))
    return {"train": balanced[:n_train], "validation": balanced[n_train:n_train + n_val],
            "test": balanced[n_train + n_val:]}


def main(overrides: list[str]) -> int:
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if not real:
        print("TOOLKIT_REAL_DATA is not set (a folder laid out like ../shared/data): nothing to do.")
        return 0
    tsv = Path(real) / "sms_spam" / "SMSSpamCollection.tsv"
    if not tsv.is_file():
        print(f"error: {tsv} not found; TOOLKIT_REAL_DATA must hold sms_spam/SMSSpamCollection.tsv", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import toolkit

    data_dir = Path("runs/sms-spam-data")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in balanced_splits(tsv).items():
        (data_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    started = time.time()
    result = toolkit.train(RECIPE, [f"data.{s}={data_dir / s}.jsonl" for s in ("train", "validation", "test")]
                           + ["overwrite=true", *overrides])
    seconds = time.time() - started
    val, test = result.metrics["validation"], result.metrics["test"]
    print(f"\nSMS spam (balanced, 70/10/20), {RECIPE.name}: validation accuracy {val['accuracy']:.4f}, "
          f"test accuracy {test['accuracy']:.4f} (test errors {round((1 - test['accuracy']) * 300)}/300), "
          f"wall time {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
