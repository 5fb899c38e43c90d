"""Held-out metrics of the preference tasks, counted per pair (or per reply) over the whole split.

TRL logs accuracies and margins as means over evaluation batches (and KTO's margin only over batches that
hold both kinds of reply), so a logged "accuracy" need not be any count of pairs. Here each pair's scores
are computed first, saved as one row each, and every metric is counted from those rows:

- reward: the reward model's score of the chosen and the rejected reply; margin = chosen - rejected.
- dpo / kto: implicit reward = beta * (log p_policy(reply) - log p_reference(reply)), summed over the reply's
  tokens (the DPO paper's r(x, y)); for DPO margin = chosen reward - rejected reward.
- orpo: reward = beta * mean log p_policy(reply) per reply token (TRL's ORPO logs the same quantity), and the
  log odds ratio of chosen over rejected.

A pair is correct when its chosen reply scores strictly higher; equal scores are a tie, counted apart and
not as correct (a policy identical to its reference ties on every pair).
"""

from __future__ import annotations

import contextlib
import math

import torch

from toolkit.metrics.per_example import ROWS, full_precision_forward, held_out_batches, mean, outcome, pair_counts
from toolkit.reward_model import reward_ids, score_ids


@torch.no_grad()
def next_token_logps(model, input_ids, attention_mask) -> torch.Tensor:
    """log p(token t+1 | tokens <= t) for every position, in fp32: (batch, length - 1)."""
    forward = full_precision_forward(model)
    logits = forward(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1].float()
    targets = input_ids[:, 1:].unsqueeze(-1)
    return logits.gather(-1, targets).squeeze(-1) - logits.logsumexp(-1)


def evaluation_model(trainer):
    model = trainer.accelerator.unwrap_model(trainer.model)
    model.eval()
    return model


def reference_context(trainer, model):
    """The reference and a context to enter for each of its forwards: the frozen copy, or the same weights
    with the LoRA adapter switched off (peft's switch is single-use, so a new one per batch)."""
    if trainer.ref_model is not None:
        return trainer.ref_model.eval(), contextlib.nullcontext
    return model, model.disable_adapter


def reply_logps(model, batch) -> list[float]:
    logps = next_token_logps(model, batch["input_ids"], batch["attention_mask"])
    return (logps * batch["completion_mask"][:, 1:]).sum(-1).tolist()


def policy_and_reference_logps(trainer, dataset):
    """Per collated batch: (summed reply log-probs under the policy, the same under the reference, batch)."""
    model = evaluation_model(trainer)
    reference, context = reference_context(trainer, model)
    for batch in held_out_batches(trainer, dataset):
        policy = reply_logps(model, batch)
        with context():
            ref = reply_logps(reference, batch)
        yield policy, ref, batch
    model.train()


def text_of(value) -> str:
    if isinstance(value, list):
        return "\n".join(f"{turn.get('role')}: {turn.get('content')}" for turn in value)
    return value if value is not None else ""


def summarise_pairs(rows: list[dict], extra: dict | None = None) -> dict:
    counts = pair_counts([row["outcome"] for row in rows])
    return {**counts, "margin": mean([row["margin"] for row in rows]),
            "chosen": mean([row["chosen"] for row in rows]), "rejected": mean([row["rejected"] for row in rows]),
            **(extra or {}), ROWS: rows}


def with_pair_loss(rows: list[dict]) -> float:
    """The Bradley-Terry / DPO sigmoid loss of each pair, -log sigmoid(margin), and its mean."""
    for row in rows:
        row["loss"] = -torch.nn.functional.logsigmoid(torch.tensor(row["margin"])).item()
    return mean([row["loss"] for row in rows])


def pair_row(source: dict, chosen: float, rejected: float, **values) -> dict:
    row = {"prompt": text_of(source.get("prompt")), "chosen_text": text_of(source.get("chosen")),
           "rejected_text": text_of(source.get("rejected")), "chosen": chosen, "rejected": rejected,
           "margin": chosen - rejected, **values}
    row["outcome"] = outcome(chosen, rejected)
    return row


def excluded(split_size: int, scored: int) -> dict:
    """Pairs TRL drops before evaluation (a prompt that alone fills max_length leaves no reply to score)."""
    return {"excluded": split_size - scored} if split_size != scored else {}


def reward_metrics(trainer, split, max_length: int | None) -> dict:
    """Reward model: each reply scored as reward training reads it; loss = mean of -log sigmoid(margin)."""
    model, tokenizer = evaluation_model(trainer), trainer.processing_class
    rows = list(split)
    sequences = []
    for row in rows:
        prompt = row.get("prompt")
        sequences += [reward_ids(tokenizer, prompt, row["chosen"], max_length),
                      reward_ids(tokenizer, prompt, row["rejected"], max_length)]
    scores = score_ids(model, tokenizer, sequences, trainer.args.per_device_eval_batch_size)
    model.train()
    out = [pair_row(row, scores[2 * i], scores[2 * i + 1]) for i, row in enumerate(rows)]
    return summarise_pairs(out, {"loss": with_pair_loss(out)})


def dpo_metrics(trainer, dataset, split_size: int) -> dict:
    """DPO: implicit rewards of chosen and rejected against the reference; loss for TRL's sigmoid loss."""
    beta, values = trainer.args.beta, []
    for policy, ref, _ in policy_and_reference_logps(trainer, dataset):
        half = len(policy) // 2  # TRL's DPO batches are [chosen rows; rejected rows]
        values += zip(policy[:half], policy[half:], ref[:half], ref[half:], strict=True)
    rows = [pair_row(source, beta * (chosen - ref_chosen), beta * (rejected - ref_rejected), chosen_logp=chosen,
                     rejected_logp=rejected, reference_chosen_logp=ref_chosen, reference_rejected_logp=ref_rejected)
            for source, (chosen, rejected, ref_chosen, ref_rejected) in zip(dataset, values, strict=True)]
    extra = excluded(split_size, len(rows))
    if trainer.args.loss_type in ("sigmoid", ["sigmoid"]):  # the DPO paper's loss, per pair
        extra["loss"] = with_pair_loss(rows)
    return summarise_pairs(rows, extra)


def kto_metrics(trainer, dataset, split_size: int) -> dict:
    """KTO: each reply's implicit reward; margin = mean over desirable replies - mean over undesirable ones."""
    beta, values = trainer.args.beta, []
    for policy, ref, batch in policy_and_reference_logps(trainer, dataset):
        values += zip(policy, ref, batch["label"].tolist(), strict=True)
    rows = [{"prompt": text_of(source.get("prompt")), "completion_text": text_of(source.get("completion")),
             "label": bool(label), "reward": beta * (logp - ref), "logp": logp, "reference_logp": ref}
            for source, (logp, ref, label) in zip(dataset, values, strict=True)]
    desirable = [row["reward"] for row in rows if row["label"]]
    undesirable = [row["reward"] for row in rows if not row["label"]]
    chosen, rejected = mean(desirable), mean(undesirable)
    return {"margin": chosen - rejected, "chosen": chosen, "rejected": rejected, "desirable": len(desirable),
            "undesirable": len(undesirable), **excluded(split_size, len(rows)), ROWS: rows}


def orpo_metrics(trainer, dataset) -> dict:
    """ORPO: reward = beta * mean reply log-prob; log odds ratio; nll = chosen's loss per token over prompt
    and reply (ORPO's SFT term)."""
    beta, model = trainer.args.beta, evaluation_model(trainer)
    rows, nll_sum, nll_tokens = [], 0.0, 0
    sources = iter(dataset)
    for batch in held_out_batches(trainer, dataset):
        per_kind = {}
        for kind in ("chosen", "rejected"):
            ids, attention = batch[f"{kind}_input_ids"], batch[f"{kind}_attention_mask"]
            logps = next_token_logps(model, ids, attention)
            reply = (batch[f"{kind}_labels"][:, 1:] != -100).float()
            whole = attention[:, 1:].float()
            per_kind[kind] = ((logps * reply).sum(-1) / reply.sum(-1).clamp(min=1)).tolist()
            if kind == "chosen":
                nll = (-(logps * whole).sum(-1)).tolist()
                counts = whole.sum(-1).tolist()
        for i, (chosen, rejected) in enumerate(zip(per_kind["chosen"], per_kind["rejected"], strict=True)):
            log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
            rows.append(pair_row(next(sources), beta * chosen, beta * rejected, chosen_mean_logp=chosen,
                                 rejected_mean_logp=rejected, log_odds_ratio=log_odds,
                                 nll_sum=nll[i], nll_tokens=int(counts[i])))
            nll_sum, nll_tokens = nll_sum + nll[i], nll_tokens + int(counts[i])
    model.train()
    return summarise_pairs(rows, {"log_odds_ratio": mean([row["log_odds_ratio"] for row in rows]),
                                  "nll_loss": nll_sum / nll_tokens if nll_tokens else float("nan")})


def log1mexp(x: float) -> float:
    """log(1 - exp(x)) for x < 0, as ORPO's odds use it."""
    return math.log(-math.expm1(x)) if x < 0 else float("-inf")
