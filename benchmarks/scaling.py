"""How training time and memory grow with sequence length (128 -> 1024) and with dataset size, for causal-LM
training through the toolkit (the pretrain task: text cut into full blocks, so every token is real).

    python benchmarks/scaling.py                       # Python's reference topics, shipped in the package
    python benchmarks/scaling.py --lengths 128 256 --sizes 100 200

Each point runs in its own process (peak resident memory is its own). Prints a table and writes
runs/benchmark-scaling/scaling.png (tokens/s and peak memory against length; seconds against size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl"
MODEL = {"n_layer": 4, "n_embd": 256, "n_head": 4, "n_positions": 1024}
if os.environ.get("TOOLKIT_BENCHMARK_TINY"):
    MODEL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 1024}


def one_point(length: int, blocks: int, work: Path) -> dict:
    """Train one epoch over `blocks` blocks of `length` tokens; tokens/s of training and peak RSS."""
    import toolkit

    recipe = {"task": "pretrain", "overwrite": True,
              "model": {"architecture": "gpt2", "config": MODEL, "tokenizer": {"vocab_size": 4000}},
              "data": {"train": str(CORPUS), "split": {"validation": 0.0, "test": 0.0}, "max_length": length},
              "eval": {"splits": []},
              "training": {"output_dir": str(work / f"run-{length}-{blocks}"), "per_device_train_batch_size": 4,
                           "max_steps": max(1, blocks // 4), "learning_rate": 1e-3, "logging_steps": 1000,
                           "eval_strategy": "no", "disable_tqdm": True, "seed": 0}}
    result = toolkit.train(recipe)
    history = json.loads((result.output_dir / "log_history.json").read_text())
    seconds = next(row["train_runtime"] for row in reversed(history) if "train_runtime" in row)
    tokens = max(1, blocks // 4) * 4 * length
    return {"length": length, "blocks": blocks, "tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def in_subprocess(length: int, blocks: int, work: Path) -> dict:
    command = [sys.executable, __file__, "--one", str(length), str(blocks), "--work", str(work)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"length {length}, blocks {blocks} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def plot(by_length: list[dict], by_size: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.8))
    lengths = [p["length"] for p in by_length]
    left.plot(lengths, [p["tokens_per_s"] for p in by_length], marker="o")
    left.set(xscale="log", xlabel="sequence length (tokens)", ylabel="tokens/s", title="Throughput vs length")
    middle.plot(lengths, [p["peak_rss_mb"] for p in by_length], marker="o", color="tab:orange")
    middle.set(xscale="log", xlabel="sequence length (tokens)", ylabel="peak RSS (MB)", title="Memory vs length")
    right.plot([p["blocks"] for p in by_size], [p["seconds"] for p in by_size], marker="o", color="tab:green")
    right.set(xlabel="training blocks (one epoch)", ylabel="seconds", title="Time vs dataset size")
    for axis in (left, middle, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--blocks", type=int, default=64, help="blocks per length point")
    parser.add_argument("--work", default="runs/benchmark-scaling")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.one:
        print(json.dumps(one_point(args.one[0], args.one[1], work)))
        return 0
    print(f"GPT-2 {MODEL}, batch 4, pretrain task (full blocks, no padding)")
    by_length = [in_subprocess(length, args.blocks, work) for length in args.lengths]
    print(f"\n  {'length':>6s} {'tokens/s':>9s} {'peak RSS MB':>12s} {'× time per token vs shortest':>30s}")
    for point in by_length:
        slowdown = by_length[0]["tokens_per_s"] / point["tokens_per_s"]
        print(f"  {point['length']:6d} {point['tokens_per_s']:9.0f} {point['peak_rss_mb']:12d} {slowdown:30.2f}")
    length = args.lengths[0]
    by_size = [in_subprocess(length, size, work) for size in args.sizes]
    print(f"\n  {'blocks':>6s} {'seconds':>8s} {'seconds per block':>18s}  (length {length})")
    for point in by_size:
        print(f"  {point['blocks']:6d} {point['seconds']:8.2f} {point['seconds'] / point['blocks']:18.4f}")
    plot(by_length, by_size, work / "scaling.png")
    print(f"\nplot: {work / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
