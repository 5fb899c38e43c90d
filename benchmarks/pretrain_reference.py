"""Pretraining a GPT-2 from scratch: the pretrain task against a plain PyTorch loop on the same data and settings.

    TOOLKIT_REAL_DATA=../shared/data python benchmarks/pretrain_reference.py [--layers 12 --width 768 --heads 12]

A published from-scratch protocol: context 256, AdamW lr 4e-4, weight decay 0.1, batch 2, 10 epochs, on a
~5,000-token text (here the start of the shipped Python-docs corpus, in file order, 90/10 split) with the real
GPT-2 tokenizer. Runs, each from the same fresh model (seed 0):

- plain loop: AdamW, constant learning rate, no clipping, fp32, the Trainer's shuffled order; bias and
  LayerNorm weights not decayed, as the Trainer does (tests/test_training_reference.py pins the two together);
- toolkit, same settings: the pretrain task with lr_scheduler_type constant, max_grad_norm 0, bf16 false;
- toolkit, same settings + bf16: bf16 autocast alone switched on (its loss and its speed);
- toolkit defaults: what a recipe gets without those keys (bf16 where the hardware has it, linear decay,
  clipping at 1.0);
- toolkit defaults, published start: model.embedding_init_std 1.0 with an untied head, as the published loop's
  own model starts (toolkit/init_check.py).

Prints final and best losses and tokens/s per run; plots every run's training and validation loss on one
figure (benchmarks/results/pretrain_reference.png).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("runs/pretrain-reference")
FIGURE = ROOT / "benchmarks" / "results" / "pretrain_reference.png"
TOKENS = 5200
SEED = 123


def story(tokenizer) -> str:
    """The first documents of the shipped corpus, in file order, until they hold TOKENS tokens."""
    lines = (ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    text = ""
    for line in lines:
        text += json.loads(line)["text"] + "\n\n"
        if len(tokenizer(text)["input_ids"]) > TOKENS:
            return text
    return text


def recipe(args, text_file: Path, tokenizer_dir: Path, name: str, training: dict, model: dict) -> dict:
    return {"task": "pretrain",
            "model": {"architecture": "gpt2", "tokenizer": str(tokenizer_dir),
                      **model, "config": {"n_layer": args.layers, "n_embd": args.width, "n_head": args.heads,
                                          "n_positions": 256, **model.get("config", {})}},
            "data": {"train": str(text_file), "split": {"validation": 0.1, "test": 0.0, "shuffle": False},
                     "max_length": 256},
            "training": {"output_dir": str(WORK / name), "learning_rate": 4e-4, "weight_decay": 0.1,
                         "per_device_train_batch_size": 2, "num_train_epochs": args.epochs, "seed": SEED,
                         "logging_steps": 1, "save_strategy": "no", "disable_tqdm": True, **training},
            "overwrite": True}


SAME = {"lr_scheduler_type": "constant", "max_grad_norm": 0.0, "bf16": False}
PUBLISHED_START = {"embedding_init_std": 1.0, "config": {"tie_word_embeddings": False}}


def run_toolkit(spec: dict) -> dict:
    import toolkit

    started = time.time()
    result = toolkit.train(spec)
    history = json.loads((result.output_dir / "log_history.json").read_text(encoding="utf-8"))
    train_seconds = json.loads((result.output_dir / "run.json").read_text(encoding="utf-8"))["train_seconds"]
    return {"train": [row["loss"] for row in history if "loss" in row],
            "validation": [row["eval_loss"] for row in history if "eval_loss" in row],
            "train_seconds": train_seconds, "seconds": time.time() - started}


def run_plain(spec: dict) -> dict:
    """The loop a reader writes: blocks from the task's own data preparation, everything else by hand."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from toolkit.recipe import load_recipe
    from toolkit.tasks import pretrain

    prepared = pretrain.prepare(load_recipe(spec))
    train = torch.tensor(prepared.splits["train"]["input_ids"])
    validation = torch.tensor(prepared.splits["validation"]["input_ids"])
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(prepared.tokenizer), **spec["model"]["config"]))
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "ln_" in n]
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "ln_" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=4e-4)
    torch.manual_seed(SEED)
    losses, evaluations, seconds = [], [], 0.0
    for epoch in range(spec["training"]["num_train_epochs"]):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(SEED + epoch))
        model.train()
        started = time.time()
        for batch in train[order].split(2):
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        seconds += time.time() - started
        model.eval()
        with torch.no_grad():
            evaluations.append(sum(model(input_ids=row[None], labels=row[None]).loss.item()
                                   for row in validation) / len(validation))
        print(f"plain loop: epoch {epoch + 1}, last train loss {losses[-1]:.3f}, validation {evaluations[-1]:.3f}",
              flush=True)
    return {"train": losses, "validation": evaluations, "train_seconds": seconds}


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, values in results.items():
        steps = range(1, len(values["train"]) + 1)
        line, = left.plot(steps, values["train"], label=name, alpha=0.8)
        per_epoch = len(values["train"]) // max(1, len(values["validation"]))
        right.plot([per_epoch * (i + 1) for i in range(len(values["validation"]))], values["validation"],
                   marker="o", color=line.get_color(), label=name)
    for axis, what in ((left, "training loss (per step, dropout on)"), (right, "validation loss (per epoch)")):
        axis.set_xlabel("optimizer step")
        axis.set_ylabel(what)
        axis.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", nargs="*", help="run only these (their names as printed); tokens/s is best "
                                                   "measured this way, a few runs alone on a quiet machine")
    args = parser.parse_args()
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if not real:
        print("TOOLKIT_REAL_DATA is not set (a folder laid out like ../shared/data): nothing to do.")
        return 0
    tokenizer_dir = Path(real) / "gpt2_tokenizer"
    if not tokenizer_dir.is_dir():
        print(f"error: {tokenizer_dir} not found under TOOLKIT_REAL_DATA", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from transformers import AutoTokenizer

    WORK.mkdir(parents=True, exist_ok=True)
    text_file = WORK / "story.txt"
    text_file.write_text(story(AutoTokenizer.from_pretrained(tokenizer_dir)), encoding="utf-8")

    def spec(name, training=None, model=None):
        return recipe(args, text_file, tokenizer_dir, name, training or {}, model or {})

    runs = {"plain loop": lambda: run_plain(spec("plain", SAME)),
            "toolkit, same settings": lambda: run_toolkit(spec("same", SAME)),
            "toolkit, same + bf16": lambda: run_toolkit(spec("same-bf16", {**SAME, "bf16": True})),
            "toolkit defaults": lambda: run_toolkit(spec("defaults")),
            "toolkit defaults, published start": lambda: run_toolkit(spec("published", model=PUBLISHED_START))}
    results = {}
    unknown = set(args.runs or []) - set(runs)
    if unknown:
        print(f"error: unknown run {sorted(unknown)}; runs: {list(runs)}", file=sys.stderr)
        return 2
    runs = {name: run for name, run in runs.items() if not args.runs or name in args.runs}
    for name, run in runs.items():
        print(f"== {name}", flush=True)
        results[name] = run()
    tokens = 2 * 256
    print(f"\nGPT-2 {args.layers} x {args.width}, {args.epochs} epochs, batch 2 x 256 tokens, lr 4e-4, wd 0.1:")
    print(f"{'run':36} {'train loss last/min':>20} {'val loss first/best/last':>27} {'tokens/s':>9}")
    for name, values in results.items():
        train, val = values["train"], values["validation"]
        speed = len(train) * tokens / values["train_seconds"]
        print(f"{name:36} {train[-1]:9.3f} /{min(train):7.3f} {val[0]:9.3f} /{min(val):6.3f} /{val[-1]:6.3f} "
              f"{speed:9.0f}")
    if args.runs:
        return 0  # a partial run: the full one writes the results and the figure
    (WORK / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    plot(results, FIGURE, f"GPT-2 {args.layers}x{args.width} from scratch, ~5k tokens, batch 2, lr 4e-4")
    print(f"figure: {FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
