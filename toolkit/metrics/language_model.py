"""Held-out loss of the language-model tasks (pretrain, mlm, sft), counted per example over the whole split.

Each example (a block of text, a masked block, a chat example) gets its summed negative log-likelihood over
the tokens that carry a label and the count of those tokens; the split's loss is their sum over the sum of
tokens (a mean per scored token) and perplexity is exp(loss). The Trainer's logged eval loss is a mean of
per-batch means instead, which weighs a token in a short batch more than one in a long batch.
"""

from __future__ import annotations

import math

import torch

from toolkit.metrics.per_example import ROWS, full_precision_forward, held_out_batches, token_mean

MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids", "token_type_ids")


def collated(trainer, dataset):
    """The split's batches with only the columns the trainer itself keeps (TRL trainers set their own)."""
    try:
        dataset = trainer._remove_unused_columns(dataset, description="evaluation")
    except AttributeError:
        pass
    for batch in held_out_batches(trainer, dataset):
        yield {key: value for key, value in batch.items() if isinstance(value, torch.Tensor)}


@torch.no_grad()
def example_nll(model, batch: dict, causal: bool) -> tuple[list[float], list[int]]:
    """(summed NLL over labelled tokens, labelled tokens) per row; a causal LM predicts the next token."""
    forward = full_precision_forward(model)  # fp32, without accelerate's autocast
    logits = forward(**{key: batch[key] for key in MODEL_INPUTS if key in batch}, use_cache=False).logits.float()
    labels = batch["labels"]
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    mask = labels != -100
    targets = labels.masked_fill(~mask, 0).unsqueeze(-1)
    nll = (logits.logsumexp(-1) - logits.gather(-1, targets).squeeze(-1)) * mask
    return nll.sum(-1).tolist(), mask.sum(-1).tolist()


def split_loss(trainer, dataset, causal: bool = True) -> dict:
    model = trainer.accelerator.unwrap_model(trainer.model)
    was_training = model.training
    model.eval()
    sums, counts = [], []
    for batch in collated(trainer, dataset):
        nll, tokens = example_nll(model, batch, causal)
        sums += nll
        counts += tokens
    model.train(was_training)
    loss = token_mean(sums, counts)
    rows = [{"example": i, "nll_sum": s, "tokens": int(n), "loss": s / n if n else None}
            for i, (s, n) in enumerate(zip(sums, counts, strict=True))]
    return {"loss": loss, "perplexity": math.exp(min(loss, 50)), "tokens": int(sum(counts)),
            "examples": len(rows), ROWS: rows}


def lm_metrics(trainer, splits, names) -> dict:
    """{split: loss, perplexity, tokens, examples and the per-example rows} for the named splits present.
    A masked-LM collator (mlm=True) scores the masked positions; otherwise each next token is scored."""
    causal = not getattr(trainer.data_collator, "mlm", False)
    return {name: split_loss(trainer, splits[name], causal) for name in names if name in splits}
