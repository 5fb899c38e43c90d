"""Peak memory of pretraining on a corpus and on one ten times its size: streamed (data.streaming) and read whole.

    python benchmarks/streaming_memory.py [--documents 4000] [--times 10]

A generated corpus (documents of a few hundred words drawn from a fixed word list, seeded) is written as
jsonl at 1x and 10x the size. Each run reads its corpus once: max_steps is the number of token blocks the
corpus holds divided by the batch, so the 10x run trains ten times the steps. Every run is a fresh process
(the pretrain task on a one-layer GPT-2, a tokenizer trained once beforehand and loaded from a folder), and
its own peak resident memory (ru_maxrss) is what is compared. Streamed, peak memory should not grow with the
corpus; read whole, the texts and their tokens are materialised first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("runs/benchmark-streaming")
BLOCK, BATCH = 64, 32
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "so", "ti", "vu", "we")
         for b in ("n", "s", "ta", "rel", "mos", "dix", "ng", "p", "lu", "ve")]


def write_corpus(path: Path, documents: int, seed: int) -> int:
    """Generated documents; returns the file's size in bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(documents):
            words = rng.choices(WORDS, k=rng.randint(150, 450))
            handle.write(json.dumps({"text": " ".join(words) + "."}) + "\n")
    return path.stat().st_size


def blocks_in(path: Path, tokenizer) -> int:
    tokens = sum(len(tokenizer(json.loads(line)["text"])["input_ids"]) + 1 for line in path.open(encoding="utf-8"))
    return tokens // BLOCK


RUN = """
import json, resource, sys, time, toolkit
recipe = json.loads(sys.argv[1])
started = time.time()
toolkit.train(recipe)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.time() - started}))
"""


def measure(corpus: Path, validation: Path, tokenizer_dir: Path, steps: int, streaming: bool, name: str) -> dict:
    recipe = {"task": "pretrain",
              "model": {"architecture": "gpt2", "tokenizer": str(tokenizer_dir),
                        "config": {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": BLOCK}},
              "data": {"train": str(corpus), "validation": str(validation), "max_length": BLOCK,
                       "streaming": streaming},
              "training": {"output_dir": str(WORK / name), "max_steps": steps, "per_device_train_batch_size": BATCH,
                           "learning_rate": 1e-3, "logging_steps": max(1, steps // 4), "disable_tqdm": True,
                           "eval_strategy": "no", "save_strategy": "no",
                           "train_sampling_strategy": "sequential"},
              "overwrite": True}
    done = subprocess.run([sys.executable, "-c", RUN, json.dumps(recipe)], capture_output=True, text=True,
                          env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    tiny = os.environ.get("TOOLKIT_BENCHMARK_TINY") == "1"
    parser.add_argument("--documents", type=int, default=40 if tiny else 4000, help="documents in the 1x corpus")
    parser.add_argument("--times", type=int, default=3 if tiny else 10, help="how much larger the big corpus is")
    options = parser.parse_args()
    from toolkit.tokenizer import train_bpe

    WORK.mkdir(parents=True, exist_ok=True)
    validation = WORK / "validation.jsonl"
    write_corpus(validation, 20, seed=0)
    tokenizer = train_bpe((json.loads(line)["text"] for line in validation.open(encoding="utf-8")), vocab_size=300)
    tokenizer_dir = WORK / "tokenizer"
    tokenizer.save_pretrained(tokenizer_dir)

    sizes = {"1x": options.documents, f"{options.times}x": options.documents * options.times}
    rows = []
    for label, documents in sizes.items():
        corpus = WORK / f"corpus-{label}.jsonl"
        size = write_corpus(corpus, documents, seed=1)
        steps = max(1, blocks_in(corpus, tokenizer) // BATCH)
        for streaming in (True, False):
            started = time.time()
            result = measure(corpus, validation, tokenizer_dir, steps, streaming, f"{label}-{streaming}")
            rows.append({"corpus": label, "documents": documents, "megabytes": size / 1e6, "steps": steps,
                         "streaming": streaming, **result, "wall": time.time() - started})
            print(json.dumps(rows[-1]), flush=True)

    print(f"\n{'corpus':>7} {'MB':>7} {'steps':>6} {'mode':>10} {'peak RSS MB':>12} {'seconds':>8}")
    for row in rows:
        mode = "streamed" if row["streaming"] else "read whole"
        print(f"{row['corpus']:>7} {row['megabytes']:7.1f} {row['steps']:6d} {mode:>10} {row['peak_rss_mb']:12.0f} "
              f"{row['seconds']:8.1f}")
    for streaming in (True, False):
        small, big = (row["peak_rss_mb"] for row in rows if row["streaming"] is streaming)
        mode = "streamed" if streaming else "read whole"
        print(f"{mode}: peak RSS {options.times}x ÷ 1x = {big / small:.2f}")


if __name__ == "__main__":
    main()
