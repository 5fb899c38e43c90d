"""The pretrain and sft tasks train as a plain PyTorch loop written here does: same model from the same seed,
same examples in the same order, same optimizer. Per-step losses must agree, first with every extra switched
off (fp32, constant learning rate, no clipping, no dropout), then with each of the trainer's defaults switched
on one at a time, written out by hand in the loop. A disagreement means the task trains on something else
than the user thinks (blocks, labels, mask) or a default does something else than it says."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

import toolkit
from conftest import ROOT
from toolkit.chat import CHATML_TEMPLATE
from toolkit.tokenizer import train_bpe

STEPS = 8
BATCH = 4
BLOCK = 32
LR = 3e-3
NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
TINY = {"n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": BLOCK, **NO_DROPOUT}

# Every extra off: what the plain loop below does unless a test switches one on.
PLAIN = {"lr_scheduler_type": "constant", "warmup_steps": 0, "max_grad_norm": 0.0, "weight_decay": 0.0,
         "bf16": False, "train_sampling_strategy": "sequential"}


def corpus_texts(count: int) -> list[str]:
    lines = (ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:count]]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer = train_bpe(corpus_texts(40), vocab_size=400)
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


def fresh_model(tokenizer) -> GPT2LMHeadModel:
    """The model a recipe's `architecture: gpt2` + `config` builds, by hand: seed 0, transformers' init."""
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), **TINY))


def plain_loop(model, batches, decay=0.0, schedule=None, clip=0.0, bf16=False, no_decay=()) -> list[float]:
    """AdamW over `batches` (dicts of tensors) in order; the loss of each step as the model returns it."""
    decayed = [p for name, p in model.named_parameters() if not any(part in name for part in no_decay)]
    kept = [p for name, p in model.named_parameters() if any(part in name for part in no_decay)]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": decay},
                                   {"params": kept, "weight_decay": 0.0}], lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule or (lambda step: 1.0))
    model.train()
    losses = []
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def logged_losses(result) -> list[float]:
    history = json.loads((result.output_dir / "log_history.json").read_text(encoding="utf-8"))
    return [row["loss"] for row in history if "loss" in row]


# ---- pretrain: documents joined with EOS, cut into blocks, labels are the inputs ----

def pretrain_recipe(tmp_path, tokenizer_dir, **training) -> dict:
    train = tmp_path / "train.txt"
    train.write_text("\n\n".join(corpus_texts(6)), encoding="utf-8")
    validation = tmp_path / "validation.txt"
    validation.write_text(corpus_texts(8)[7], encoding="utf-8")
    return {"task": "pretrain",
            "model": {"architecture": "gpt2", "tokenizer": str(tokenizer_dir), "config": TINY},
            "data": {"train": str(train), "validation": str(validation), "max_length": BLOCK},
            "training": {"output_dir": str(tmp_path / "run"), "max_steps": STEPS, "per_device_train_batch_size": BATCH,
                         "learning_rate": LR, "logging_steps": 1, "eval_strategy": "no", "save_strategy": "no",
                         "disable_tqdm": True, "seed": 0, **{**PLAIN, **training}}}


def pretrain_batches(tmp_path, tokenizer, shuffled: bool = False) -> list[dict]:
    """The whole train file is one document: its tokens, then EOS, cut into BLOCK-token rows, in file order or
    in the order the Trainer draws (accelerate's seeded sampler: a permutation seeded with seed + epoch)."""
    ids = tokenizer((tmp_path / "train.txt").read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"]
    stream = ids + [tokenizer.eos_token_id]
    blocks = torch.tensor([stream[start:start + BLOCK] for start in range(0, len(stream) - BLOCK + 1, BLOCK)])
    assert len(blocks) >= STEPS * BATCH, "the test text must last the steps without a second epoch"
    if shuffled:
        blocks = blocks[torch.randperm(len(blocks), generator=torch.Generator().manual_seed(0))]
    return [{"input_ids": rows, "labels": rows} for rows in blocks[:STEPS * BATCH].split(BATCH)]


def linear_decay(steps: int, warmup: int = 0):
    return lambda step: step / warmup if step < warmup else max(0.0, (steps - step) / (steps - warmup))


# what each default of the trainer does, written out in the plain loop: (recipe's training keys, loop options)
DEFAULTS = {
    "plain": ({}, {}),
    "linear decay with warmup": ({"lr_scheduler_type": "linear", "warmup_steps": 2},
                                 {"schedule": linear_decay(STEPS, warmup=2)}),
    "gradient clipping": ({"max_grad_norm": 0.5}, {"clip": 0.5}),
    # the Trainer decays every weight but biases and norm layers (what the plain loop's no_decay names)
    "weight decay": ({"weight_decay": 0.1}, {"decay": 0.1, "no_decay": ("bias", "ln_")}),
    "shuffled order": ({"train_sampling_strategy": "random"}, {}),
}


@pytest.mark.parametrize("default", list(DEFAULTS))
def test_pretrain_matches_a_plain_loop(tmp_path, tokenizer_dir, default):
    training, loop = DEFAULTS[default]
    result = toolkit.train(pretrain_recipe(tmp_path, tokenizer_dir, **training))
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    batches = pretrain_batches(tmp_path, tokenizer, shuffled=default == "shuffled order")
    expected = plain_loop(fresh_model(tokenizer), batches, **loop)
    assert expected[-1] < expected[0] - 0.3  # the loop learns, so agreeing with it is not agreeing on nothing
    assert logged_losses(result) == pytest.approx(expected, abs=2e-4)


def test_pretrain_with_bf16_autocast_matches_a_plain_loop_in_bf16(tmp_path, tokenizer_dir):
    """bf16 autocast (the default where the CPU or GPU has bf16 in hardware) is the same autocast the plain loop
    opens: the task's losses sit on the bf16 loop's, several times closer than to the fp32 loop's."""
    result = toolkit.train(pretrain_recipe(tmp_path, tokenizer_dir, bf16=True))
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    batches = pretrain_batches(tmp_path, tokenizer)
    logged = logged_losses(result)
    to_bf16 = max_gap(logged, plain_loop(fresh_model(tokenizer), batches, bf16=True))
    to_fp32 = max_gap(logged, plain_loop(fresh_model(tokenizer), batches))
    assert to_bf16 < 1e-4 and to_fp32 > 3 * to_bf16, (to_bf16, to_fp32)


def max_gap(losses: list[float], others: list[float]) -> float:
    assert len(losses) == len(others)
    return max(abs(a - b) for a, b in zip(losses, others, strict=True))


# ---- sft: the chat template, with loss on the assistant's reply only ----

def test_sft_matches_a_plain_loop_on_the_assistant_tokens(tmp_path, tokenizer_dir):
    """The plain loop builds each example by hand: the ChatML text, and labels -100 on everything but the
    assistant's reply and its end-of-turn token. Same order, same optimizer, so the same per-step losses."""
    pairs = [(f"What is {a} plus {b}?", f"{a + b}") for a, b in zip(range(1, 40, 3), range(7, 46, 3), strict=True)]
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": r}]} for q, r in pairs]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    recipe = {"task": "sft",
              "model": {"architecture": "gpt2", "tokenizer": str(tokenizer_dir), "config": TINY},
              "data": {"train": str(train), "max_length": BLOCK},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 3, "per_device_train_batch_size": BATCH,
                           "learning_rate": LR, "logging_steps": 1, "eval_strategy": "no", "save_strategy": "no",
                           "disable_tqdm": True, "seed": 0, "packing": False, **PLAIN}}
    result = toolkit.train(recipe)

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    examples = []
    for question, reply in pairs:
        prompt = tokenizer(f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n",
                           add_special_tokens=False)["input_ids"]
        answer = tokenizer(f"{reply}<|im_end|>", add_special_tokens=False)["input_ids"]
        examples.append((prompt + answer + tokenizer("\n")["input_ids"], len(prompt), len(answer)))
    batches = []
    for start in range(0, 3 * BATCH, BATCH):
        chunk = examples[start:start + BATCH]
        width = max(len(ids) for ids, _, _ in chunk)
        input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id)
        labels = torch.full((len(chunk), width), -100)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (ids, prompt_length, answer_length) in enumerate(chunk):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
            span = slice(prompt_length, prompt_length + answer_length)
            labels[row, span] = input_ids[row, span]
        batches.append({"input_ids": input_ids, "attention_mask": mask, "labels": labels})
    expected = plain_loop(fresh_model(tokenizer), batches)
    assert all(not math.isnan(loss) for loss in expected)
    assert logged_losses(result) == pytest.approx(expected, abs=2e-4)
