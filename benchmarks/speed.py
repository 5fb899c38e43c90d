"""Training speed, side by side on the same data and model: the toolkit, the plain TRL / transformers script
a user would write with the libraries' defaults, the same script hand-tuned as the toolkit tunes it, and a
plain PyTorch loop (the physical reference for the machine).

    TOOLKIT_REAL_DATA=../shared/data python benchmarks/speed.py            # every task below
    python benchmarks/speed.py --task sft --examples 400                  # synthetic data when unset

Each variant runs in its own process (so peak memory is its own) over one epoch of the same examples and
reports real (non-padding) tokens per second of training, peak resident memory, and model FLOPs utilisation
against this machine's measured matmul peak in the precision the variant ran in. TRL with its defaults (bf16 autocast and gradient
checkpointing, meant for GPUs) is so slow on a CPU that it runs on an eighth of the examples; a rate is a
rate. Ratios: toolkit / plain TRL defaults, toolkit / hand-tuned TRL (the wrapper's own cost), toolkit /
PyTorch loop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = {"n_layer": 4, "n_embd": 256, "n_head": 4, "n_positions": 512}
if os.environ.get("TOOLKIT_BENCHMARK_TINY"):  # the smoke test: the same code on a toy model
    MODEL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 512}
SEED = 0


# ---------------------------------------------------------------- data (same rows for every variant)

def instruction_rows(n: int) -> list[dict]:
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if real and (Path(real) / "instructions" / "instruction-data.json").is_file():
        rows = json.loads((Path(real) / "instructions" / "instruction-data.json").read_text(encoding="utf-8"))
    else:  # synthetic fallback: the shipped toy set, repeated
        path = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [rows[i % len(rows)] for i in range(n)]


def sms_rows(n: int) -> list[dict]:
    real = os.environ.get("TOOLKIT_REAL_DATA")
    path = Path(real or "/nonexistent") / "sms_spam" / "SMSSpamCollection.tsv"
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        rows = [{"label": line.split("\t", 1)[0], "text": line.split("\t", 1)[1]} for line in lines]
    else:
        path = ROOT / "toolkit" / "assets" / "toy_sms.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [rows[i % len(rows)] for i in range(n)]


def preference_rows(n: int) -> list[dict]:
    """The package's preference pairs (there are no preference labels in the real data), repeated."""
    path = ROOT / "toolkit" / "assets" / "toy_preferences.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [rows[i % len(rows)] for i in range(n)]


def reversal_rows(n: int) -> list[dict]:
    """Prompts with a checkable answer (the package's digit-reversal set), repeated."""
    path = ROOT / "toolkit" / "assets" / "reversal_rl.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [{"prompt": r["prompt"], "answer": r["answer"]} for r in (rows[i % len(rows)] for i in range(n))]


def tokenizer_source() -> dict | str:
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if real and (Path(real) / "gpt2_tokenizer").is_dir():
        return str(Path(real) / "gpt2_tokenizer")
    return {"vocab_size": 4000}


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------- measurements

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_flops(dtype: str = "float32", n: int = 1024, repeats: int = 20) -> float:
    import torch

    a, b = torch.randn(n, n, dtype=getattr(torch, dtype)), torch.randn(n, n, dtype=getattr(torch, dtype))
    best = float("inf")
    for _ in range(4):  # the best of a few timings: the first warms up, a shared machine adds noise
        started = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 * repeats / best


def compute_parameters(model, causal: bool) -> int:
    """Parameters that cost 6 FLOPs per token in training (forward + backward): not the embedding lookups,
    but the LM head's projection onto the vocabulary, which is a real matmul (tied to the embeddings)."""
    import torch

    embeddings = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    total = sum(p.numel() for p in model.parameters())
    return total - embeddings + (model.get_output_embeddings().weight.numel() if causal else 0)


def train_seconds(log_history: list[dict]) -> float:
    return next(row["train_runtime"] for row in reversed(log_history) if "train_runtime" in row)


# ---------------------------------------------------------------- one variant, in this process

GRPO = {"num_generations": 8, "max_completion_length": 12, "per_device_train_batch_size": 8}


def toolkit_recipe(task: str, rows: list[dict], work: Path, training: dict) -> dict:
    data = write_jsonl(rows, work / "data.jsonl")
    if task == "rlhf":
        training = {**GRPO, **training}
    base = {"per_device_train_batch_size": 8, "learning_rate": 5e-4, "num_train_epochs": 1, "seed": SEED,
            "eval_strategy": "no", "logging_steps": 50, "disable_tqdm": True, "output_dir": str(work / "run")}
    recipe = {"task": task, "overwrite": True,
              "model": {"architecture": "gpt2", "config": MODEL, "tokenizer": tokenizer_source()},
              "data": {"train": str(data), "split": {"validation": 0.0, "test": 0.0}, "max_length": 256},
              "eval": {"splits": []}, "training": {**base, **training}}
    if task == "rlhf":
        # A fresh model reverses nothing, so the reward preflight would refuse it; plain TRL has no preflight, and
        # this measures training speed.
        recipe["rl"] = {"algorithm": "grpo", "rewards": [{"function": "exact_text"}], "preflight": "off"}
    return recipe


def sft_tokens(rows: list[dict], tokenizer, max_length: int) -> list[list[int]]:
    from toolkit.chat import alpaca_to_messages, ensure_chat_template

    ensure_chat_template(tokenizer)
    texts = [alpaca_to_messages(r["instruction"], r.get("input"), r["output"]) for r in rows]
    return [tokenizer.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"][:max_length]
            for m in texts]


def run_toolkit(task: str, rows: list[dict], work: Path, training: dict, model: dict | None = None) -> dict:
    import toolkit

    recipe = toolkit_recipe(task, rows, work, training)
    recipe["model"].update(model or {})
    result = toolkit.train(recipe)
    history = json.loads((result.output_dir / "log_history.json").read_text())
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    if task == "sft":
        tokens = sum(len(ids) for ids in sft_tokens(rows, tokenizer, 256))
    elif task in ("dpo", "reward"):
        tokens = pair_tokens(rows, tokenizer)
    elif task == "rlhf":  # generation-bound: the unit is a rollout (one sampled completion)
        tokens = len(rows) * GRPO["num_generations"]
    else:
        tokens = sum(len(ids) for ids in tokenizer([r["text"] for r in rows], truncation=True, max_length=256)["input_ids"])
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    causal = task in ("sft", "dpo", "rlhf")
    auto = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
    params = compute_parameters(auto.from_pretrained(result.output_dir), causal=causal)
    bf16 = json.loads((result.output_dir / "training_args.json").read_text())["bf16"]
    return {"tokens": tokens, "seconds": train_seconds(history), "parameters": params, "bf16": bf16}


def pair_tokens(rows: list[dict], tokenizer) -> int:
    """Tokens of prompt + chosen and prompt + rejected: what a preference step runs the policy on."""
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "") for r in rows]
    return sum(len(tokenizer(f"{p}\n{r[key]}")["input_ids"]) for p, r in zip(prompts, rows, strict=True) for key in ("chosen", "rejected"))


def run_trl_dpo(rows: list[dict], work: Path) -> dict:
    """The DPO script a user writes: DPOTrainer at its config's defaults, a frozen copy as the reference."""
    import copy

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    tokenizer = tokenizer_for(rows, "dpo")
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "") + "\n" for r in rows]
    dataset = Dataset.from_list([{"prompt": p, "chosen": r["chosen"], "rejected": r["rejected"]}
                                 for p, r in zip(prompts, rows, strict=True)])
    model = new_model(AutoModelForCausalLM, tokenizer)
    args = DPOConfig(output_dir=str(work / "trl-dpo"), per_device_train_batch_size=8, learning_rate=5e-4,
                     num_train_epochs=1, seed=SEED, report_to="none", save_strategy="no", max_length=256,
                     logging_steps=50, disable_tqdm=True, use_cpu=not torch.cuda.is_available())
    trainer = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args, train_dataset=dataset,
                         processing_class=tokenizer)
    trainer.train()
    return {"tokens": pair_tokens(rows, tokenizer), "seconds": train_seconds(trainer.state.log_history),
            "parameters": compute_parameters(model, causal=True), "bf16": args.bf16}


def run_trl_reward(rows: list[dict], work: Path) -> dict:
    """The reward-model script a user writes: RewardTrainer at its config's defaults."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    tokenizer = tokenizer_for(rows, "reward")
    prompts = [r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "") + "\n" for r in rows]
    dataset = Dataset.from_list([{"prompt": p, "chosen": r["chosen"], "rejected": r["rejected"]}
                                 for p, r in zip(prompts, rows, strict=True)])
    model = new_model(AutoModelForSequenceClassification, tokenizer, num_labels=1)
    args = RewardConfig(output_dir=str(work / "trl-reward"), per_device_train_batch_size=8, learning_rate=5e-4,
                        num_train_epochs=1, seed=SEED, report_to="none", save_strategy="no", max_length=256,
                        logging_steps=50, disable_tqdm=True, use_cpu=not torch.cuda.is_available())
    trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    return {"tokens": pair_tokens(rows, tokenizer), "seconds": train_seconds(trainer.state.log_history),
            "parameters": compute_parameters(model, causal=False), "bf16": args.bf16}


def run_trl_grpo(rows: list[dict], work: Path) -> dict:
    """The GRPO script a user writes: GRPOTrainer with the checker as its reward, the config at its defaults
    but for the rollout shape (the same group size and completion length as the toolkit's run)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from toolkit.rewards import exact_text

    tokenizer = tokenizer_for([{"instruction": r["prompt"], "output": r["answer"]} for r in rows], "sft")
    model = new_model(AutoModelForCausalLM, tokenizer)
    args = GRPOConfig(output_dir=str(work / "trl-grpo"), learning_rate=5e-4, num_train_epochs=1, seed=SEED,
                      report_to="none", save_strategy="no", logging_steps=50, disable_tqdm=True,
                      use_cpu=not torch.cuda.is_available(), **GRPO)
    trainer = GRPOTrainer(model=model, reward_funcs=[exact_text], args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer)
    trainer.train()
    return {"tokens": len(rows) * GRPO["num_generations"], "seconds": train_seconds(trainer.state.log_history),
            "parameters": compute_parameters(model, causal=True), "bf16": args.bf16}


def tokenizer_for(rows: list[dict], task: str):
    from toolkit.recipe import ModelSpec, TokenizerSpec
    from toolkit.models import load_tokenizer

    source = tokenizer_source()
    spec = ModelSpec(architecture="gpt2", tokenizer=TokenizerSpec(**source) if isinstance(source, dict) else source)
    texts = [r["text"] for r in rows] if task == "classification" else \
        [f"{r['instruction']} {r.get('input', '')} {r.get('output') or r['chosen'] + ' ' + r['rejected']}"
         for r in rows]
    return load_tokenizer(spec, "benchmark", train_texts=texts)


def new_model(auto_class, tokenizer, **extra):
    import torch
    from transformers import AutoConfig

    torch.manual_seed(SEED)
    config = AutoConfig.for_model("gpt2", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                                  **MODEL, **extra)
    return auto_class.from_config(config)


def run_trl_sft(rows: list[dict], work: Path, tuned: bool) -> dict:
    """The SFT script a user writes: TRL's SFTTrainer on conversations, its config at its defaults (or, tuned,
    with what the toolkit sets on this device: its config fields, and TRL's LM head put in the toolkit's mode)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from toolkit.chat import alpaca_to_messages, ensure_chat_template
    from toolkit.lm_head import default_mode, lm_head_mode

    tokenizer = tokenizer_for(rows, "sft")
    ensure_chat_template(tokenizer)
    dataset = Dataset.from_list([{"messages": alpaca_to_messages(r["instruction"], r.get("input"), r["output"])}
                                 for r in rows])
    settings = {"output_dir": str(work / "trl"), "per_device_train_batch_size": 8, "learning_rate": 5e-4,
                "num_train_epochs": 1, "seed": SEED, "report_to": "none", "max_length": 256,
                "save_strategy": "no", "logging_steps": 50, "disable_tqdm": True,
                "use_cpu": not torch.cuda.is_available()}  # without it, TRL's bf16 default refuses to start
    if tuned:
        from toolkit.devices import bf16_supported

        settings.update(bf16=bf16_supported(), gradient_checkpointing=False, assistant_only_loss=True,
                        train_sampling_strategy="group_by_length", dataloader_pin_memory=False)
    model = new_model(AutoModelForCausalLM, tokenizer)
    trainer = SFTTrainer(model=model, args=SFTConfig(**settings), train_dataset=dataset, processing_class=tokenizer)
    mode = default_mode("cuda" if torch.cuda.is_available() else "cpu") if tuned else "trl"
    with lm_head_mode(mode):
        trainer.train()
    tokens = sum(len(ids) for ids in sft_tokens(rows, tokenizer, 256))
    return {"tokens": tokens, "seconds": train_seconds(trainer.state.log_history),
            "parameters": compute_parameters(model, causal=True), "bf16": trainer.args.bf16}


def run_trainer_classification(rows: list[dict], work: Path) -> dict:
    """The plain transformers script: Trainer with its defaults, dynamic padding."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

    tokenizer = tokenizer_for(rows, "classification")
    labels = sorted({r["label"] for r in rows})
    encoded = tokenizer([r["text"] for r in rows], truncation=True, max_length=256)
    dataset = Dataset.from_dict({**encoded, "labels": [labels.index(r["label"]) for r in rows]})
    model = new_model(AutoModelForSequenceClassification, tokenizer, num_labels=len(labels))
    args = TrainingArguments(output_dir=str(work / "hf"), per_device_train_batch_size=8, learning_rate=5e-4,
                             num_train_epochs=1, seed=SEED, report_to="none", save_strategy="no",
                             logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    return {"tokens": sum(len(ids) for ids in encoded["input_ids"]), "seconds": train_seconds(trainer.state.log_history),
            "parameters": compute_parameters(model, causal=False), "bf16": args.bf16}


def run_torch_loop(task: str, rows: list[dict], bf16: bool = False) -> dict:
    """A plain PyTorch loop: shuffled batches of 8, padded to the longest in the batch, AdamW, fp32 (or with
    bf16 autocast, as the toolkit runs where the hardware has bf16)."""
    import contextlib

    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    tokenizer = tokenizer_for(rows, task)
    if task == "sft":
        sequences = sft_tokens(rows, tokenizer, 256)
        model = new_model(AutoModelForCausalLM, tokenizer)
        labels = None
    else:
        names = sorted({r["label"] for r in rows})
        sequences = tokenizer([r["text"] for r in rows], truncation=True, max_length=256)["input_ids"]
        labels = [names.index(r["label"]) for r in rows]
        model = new_model(AutoModelForSequenceClassification, tokenizer, num_labels=len(names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    order = torch.randperm(len(sequences), generator=torch.Generator().manual_seed(SEED)).tolist()
    model.train()
    started = time.perf_counter()
    for start in range(0, len(order), 8):
        batch = [sequences[i] for i in order[start:start + 8]]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)], mask[row, :len(seq)] = torch.tensor(seq), 1
        if labels is None:
            target = ids.masked_fill(mask == 0, -100)
        else:
            target = torch.tensor([labels[i] for i in order[start:start + 8]])
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = model(input_ids=ids, attention_mask=mask, labels=target).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return {"tokens": sum(len(s) for s in sequences), "seconds": time.perf_counter() - started,
            "parameters": compute_parameters(model, causal=task == "sft"), "bf16": bf16}


VARIANTS = {
    "sft": {
        "toolkit (length-grouped, the default)": lambda rows, work: run_toolkit("sft", rows, work, {}),
        "toolkit, padded (random order)": lambda rows, work: run_toolkit(
            "sft", rows, work, {"train_sampling_strategy": "random"}),
        "toolkit, packed (wrapped)": lambda rows, work: run_toolkit(
            "sft", rows, work, {"packing": True, "packing_strategy": "wrapped"}),
        "toolkit, packed bfd (padding-free)": lambda rows, work: run_toolkit(
            "sft", rows, work, {"packing": True, "packing_strategy": "bfd"}),
        "toolkit, model.lm_head: trl (TRL's head as shipped)": lambda rows, work: run_toolkit(
            "sft", rows, work, {}, model={"lm_head": "trl"}),
        "toolkit, fp32 (bf16: false)": lambda rows, work: run_toolkit("sft", rows, work, {"bf16": False}),
        "TRL SFTTrainer, library defaults": lambda rows, work: run_trl_sft(rows, work, tuned=False),
        "TRL SFTTrainer, hand-tuned like the toolkit": lambda rows, work: run_trl_sft(rows, work, tuned=True),
        "PyTorch loop, padded": lambda rows, work: run_torch_loop("sft", rows),
        "PyTorch loop, padded, bf16 autocast": lambda rows, work: run_torch_loop("sft", rows, bf16=True),
    },
    "dpo": {
        "toolkit (reference run every step)": lambda rows, work: run_toolkit("dpo", rows, work, {}),
        "toolkit, reference log-probs precomputed": lambda rows, work: run_toolkit(
            "dpo", rows, work, {"precompute_ref_log_probs": True}),
        "TRL DPOTrainer, library defaults": lambda rows, work: run_trl_dpo(rows, work),
    },
    "reward": {
        "toolkit": lambda rows, work: run_toolkit("reward", rows, work, {}),
        "TRL RewardTrainer, library defaults": lambda rows, work: run_trl_reward(rows, work),
    },
    "grpo": {
        "toolkit": lambda rows, work: run_toolkit("rlhf", rows, work, {}),
        "TRL GRPOTrainer, library defaults": lambda rows, work: run_trl_grpo(rows, work),
    },
    "classification": {
        "toolkit (length-grouped, the default)": lambda rows, work: run_toolkit("classification", rows, work, {}),
        "transformers Trainer, library defaults": lambda rows, work: run_trainer_classification(rows, work),
        "PyTorch loop, padded": lambda rows, work: run_torch_loop("classification", rows),
    },
}
SLOW = {"TRL SFTTrainer, library defaults", "TRL DPOTrainer, library defaults"}  # GPU defaults on a CPU: an eighth of the examples


def run_one(task: str, name: str, examples: int, work: Path) -> dict:
    source = {"sft": instruction_rows, "dpo": preference_rows, "reward": preference_rows, "grpo": reversal_rows,
              "classification": sms_rows}[task]
    rows = source(examples // 8 if name in SLOW else examples)
    import torch

    torch.manual_seed(SEED)
    measured = VARIANTS[task][name](rows, work)
    return {**measured, "peak_rss_mb": round(peak_rss_mb()), "examples": len(rows)}


# ---------------------------------------------------------------- the table

def cpu_name() -> str:
    import platform

    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def padding_ratio(examples: int, batch: int = 8) -> float:
    """Positions in shuffled, dynamically padded batches per real token of the SFT rows."""
    import random

    rows = instruction_rows(examples)
    lengths = [len(ids) for ids in sft_tokens(rows, tokenizer_for(rows, "sft"), 256)]
    order = list(range(len(lengths)))
    random.Random(SEED).shuffle(order)
    batches = [[lengths[i] for i in order[start:start + batch]] for start in range(0, len(order), batch)]
    return sum(max(b) * len(b) for b in batches) / sum(lengths)


def in_subprocess(task: str, name: str, examples: int, work: Path) -> dict:
    command = [sys.executable, __file__, "--one", task, name, "--examples", str(examples), "--work", str(work)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"{task} / {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(task: str, results: dict[str, dict], peaks: dict[bool, float]) -> None:
    rate = {name: r["tokens"] / r["seconds"] for name, r in results.items()}
    ours = rate[next(iter(results))]
    if task == "grpo":  # generation-bound: rollouts (sampled completions) per second, no MFU
        print(f"\n{task}: rollouts/s (completions of up to {GRPO['max_completion_length']} tokens, "
              f"{GRPO['num_generations']} per prompt, one epoch), peak RSS")
        print(f"  {'variant':46s} {'rollouts/s':>10s} {'RSS MB':>7s} {'toolkit ÷ this':>15s}")
        for name, r in results.items():
            print(f"  {name:46s} {rate[name]:10.1f} {r['peak_rss_mb']:7d} {ours / rate[name]:15.2f}")
        return
    print(f"\n{task}: tokens/s (real tokens, one epoch), peak RSS, model FLOPs utilisation (6 x compute "
          f"parameters x tokens/s) vs this machine's matmul peak in the variant's precision (fp32 "
          f"{peaks[False] / 1e9:.0f}, bf16 {peaks[True] / 1e9:.0f} GFLOP/s)")
    print(f"  {'variant':52s} {'precision':>9s} {'tokens/s':>9s} {'RSS MB':>7s} {'MFU':>6s} {'toolkit ÷ this':>15s}")
    for name, r in results.items():
        mfu = 6 * r["parameters"] * rate[name] / peaks[r["bf16"]]
        precision = "bf16" if r["bf16"] else "fp32"
        print(f"  {name:52s} {precision:>9s} {rate[name]:9.0f} {r['peak_rss_mb']:7d} {mfu:6.1%} "
              f"{ours / rate[name]:15.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=[*VARIANTS, "all"], default="all")
    parser.add_argument("--examples", type=int, default=800)
    parser.add_argument("--work", default="runs/benchmark-speed")
    parser.add_argument("--one", nargs=2, metavar=("TASK", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.one:
        task, name = args.one
        slot = work / f"{task}-{abs(hash(name)) % 10 ** 6}"
        print(json.dumps(run_one(task, name, args.examples, slot)))
        return 0
    peaks = {False: matmul_peak_flops("float32"), True: matmul_peak_flops("bfloat16")}
    source = "real data" if os.environ.get("TOOLKIT_REAL_DATA") else "synthetic data (TOOLKIT_REAL_DATA unset)"
    from toolkit.devices import describe

    print(f"{args.examples} examples, {source}; GPT-2 {MODEL}; batch 8; precision as each variant's settings say; "
          f"{describe()}, {cpu_name()}")
    for task in VARIANTS if args.task == "all" else [args.task]:
        results = {}
        for name in VARIANTS[task]:
            results[name] = in_subprocess(task, name, args.examples, work)
            print(f"  done: {task} / {name} ({results[name]['seconds']:.1f} s)", flush=True)
        report(task, results, peaks)
        if task == "sft":
            print(f"  padding: random batches of 8 hold {padding_ratio(args.examples):.2f} positions per real token "
                  f"(the most that removing padding alone can gain)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
