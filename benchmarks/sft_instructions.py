"""Instruction SFT on the 1,100-example Alpaca-style set, the book's split, through a toolkit recipe.

    TOOLKIT_REAL_DATA=../shared/data python benchmarks/sft_instructions.py [overrides...]

Split as in "Build a Large Language Model (From Scratch)": the first 85% train (935), the next 10% test
(110), the last 5% validation (55), in file order. The model is a small GPT-2 built from a config with
the real GPT-2 tokenizer (no pretrained weights can be had offline). Prints held-out loss before and
after, sample responses, and the wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "sft" / "gpt2-scratch-instructions.yaml"
DATA = Path("runs/instructions-data")


def book_splits(path: Path) -> dict[str, list[dict]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    n_train, n_test = int(len(rows) * 0.85), int(len(rows) * 0.1)
    return {"train": rows[:n_train], "test": rows[n_train:n_train + n_test], "validation": rows[n_train + n_test:]}


def main(overrides: list[str]) -> int:
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if not real:
        print("TOOLKIT_REAL_DATA is not set (a folder laid out like ../shared/data): nothing to do.")
        return 0
    source, tokenizer = Path(real) / "instructions" / "instruction-data.json", Path(real) / "gpt2_tokenizer"
    if not source.is_file() or not tokenizer.is_dir():
        print(f"error: {source} or {tokenizer} not found under TOOLKIT_REAL_DATA", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import toolkit

    DATA.mkdir(parents=True, exist_ok=True)
    for name, rows in book_splits(source).items():
        (DATA / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
    shutil.copytree(tokenizer, DATA / "gpt2_tokenizer", dirs_exist_ok=True)
    started = time.time()
    result = toolkit.train(RECIPE, ["overwrite=true", *overrides])
    seconds = time.time() - started
    m = result.metrics
    print(f"\nSFT, 1,100 instructions (935/55/110), {RECIPE.name}:")
    for split in ("validation", "test"):
        print(f"  {split} loss {m['before'][split]['loss']:.3f} -> {m[split]['loss']:.3f} "
              f"(perplexity {m[split]['perplexity']:.1f})")
    test = book_splits(source)["test"][:3]
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "") for r in test]
    for prompt, answer, row in zip(prompts, toolkit.generate(result.output_dir, prompts, max_new_tokens=40), test, strict=True):
        print(f"  prompt: {prompt!r}\n    model: {answer!r}\n    reference: {row['output']!r}")
    print(f"  wall time {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
