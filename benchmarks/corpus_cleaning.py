"""Documents per second of corpus cleaning (data.clean's default steps: language, Gopher/FineWeb quality,
exact and near duplicates) in this process and under datatrove's LocalPipelineExecutor with 1 and 2 workers.

    python benchmarks/corpus_cleaning.py                  # the shipped corpus, 10 perturbed copies (3,240 docs)
    python benchmarks/corpus_cleaning.py --copies 30 --tasks 8

The corpus: toolkit/assets/pydoc_corpus.jsonl repeated, each copy with every fifth word of each document
dropped at a different offset, so copies are near but not exact duplicates and the dedup steps work too.
Each setting is timed from the list of texts to the kept set, in this process; the executor settings include
writing the shards and starting the worker processes. The kept sets must be equal (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def perturbed_corpus(copies: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in (ROOT / "toolkit/assets/pydoc_corpus.jsonl").read_text(
        encoding="utf-8").splitlines()]
    corpus = list(texts)
    for copy in range(1, copies):
        corpus += [" ".join(word for i, word in enumerate(text.split(" ")) if (i + copy) % 5) for text in texts]
    return corpus


def main() -> int:
    from toolkit.data.corpus import clean_corpus
    from toolkit.recipe import CleanSpec

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2 if os.environ.get("TOOLKIT_BENCHMARK_TINY") else 10)
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args()
    texts = perturbed_corpus(args.copies)
    settings = {"in process": (1, 1), f"executor, {args.tasks} tasks, 1 worker": (args.tasks, 1),
                f"executor, {args.tasks} tasks, 2 workers": (args.tasks, 2)}
    print(f"{len(texts):,} documents ({args.copies} copies of the shipped corpus), {os.cpu_count()} CPUs")
    kept_sets = []
    for name, (tasks, workers) in settings.items():
        started = time.perf_counter()
        keep, _ = clean_corpus(texts, CleanSpec(tasks=tasks, workers=workers))
        seconds = time.perf_counter() - started
        kept_sets.append(keep)
        print(f"{name:<30} {seconds:7.2f} s  {len(texts) / seconds:8,.0f} documents/s  kept {sum(keep):,}", flush=True)
    assert all(keep == kept_sets[0] for keep in kept_sets), "the settings kept different documents"
    return 0


if __name__ == "__main__":  # the executor's worker processes import this file again: run only once
    raise SystemExit(main())
