"""What a reward model reads, in one place: reward training, its held-out evaluation, `toolkit score` and RL
rewards from a reward-model folder all turn a (prompt, reply) into tokens here, so a score means the same
thing wherever it is computed.

The format is TRL's RewardTrainer's: a conversation goes through the tokenizer's chat template (prompt turns,
then the reply turn); plain text is prompt + reply, followed by the tokenizer's EOS token where it has one
(TRL appends it so the score is read at the end of the reply; BERT-family tokenizers have no EOS and end a
sequence with their own [SEP]), tokenized with the tokenizer's special tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch

from toolkit.chat import apply_template
from toolkit.errors import ToolkitError
from toolkit.loading import saved_model, saved_tokenizer
from toolkit.metrics.per_example import full_precision_forward
from toolkit.run_folder import RECIPE, require_model_folder
from toolkit.data.streaming import is_stream


def joined_prompt(prompt: str) -> str:
    """A plain-text prompt as the preference data gives it to TRL: kept apart from the reply by a newline."""
    return prompt if not prompt or prompt[-1:].isspace() else prompt + "\n"


def reward_ids(tokenizer, prompt, reply, max_length: int | None = None) -> list[int]:
    """Token ids the reward model reads for one reply. prompt: a string, a list of turns, or None (the reply
    holds the prompt); reply: a string or a list of turns. Cut at max_length (the start is kept)."""
    if isinstance(reply, list):
        turns = (prompt if isinstance(prompt, list) else
                 [{"role": "user", "content": prompt}] if prompt else []) + reply
        fix = "Fix the template (chat_template.jinja in the reward model's folder) or the turns' roles."
        ids = apply_template(tokenizer, turns, fix, tokenize=True, return_dict=True)["input_ids"]
    else:
        text = (prompt or "") + reply
        eos = tokenizer.eos_token
        if eos and not text.endswith(eos):
            text += eos
        ids = tokenizer(text)["input_ids"]
    return list(ids[:max_length] if max_length else ids)


def tokenize_pairs(split, tokenizer, max_length: int | None):
    """Preference pairs as TRL's RewardTrainer takes them already tokenized (chosen_ids, rejected_ids)."""
    def encode(row):
        prompt = row.get("prompt")
        return {"chosen_ids": reward_ids(tokenizer, prompt, row["chosen"], max_length),
                "rejected_ids": reward_ids(tokenizer, prompt, row["rejected"], max_length)}

    return split.map(encode) if is_stream(split) else split.map(encode, desc="tokenizing pairs for the reward model")


@torch.no_grad()
def score_ids(model, tokenizer, sequences: list[list[int]], batch_size: int = 32) -> list[float]:
    """One score per token sequence, in order; padded on the right as in training."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores = []
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start:start + batch_size]
        batch = tokenizer.pad({"input_ids": chunk}, padding=True, return_tensors="pt")
        batch = {key: value.to(device) for key, value in batch.items()}
        forward = full_precision_forward(model)  # fp32 in training's evaluation as in toolkit.score
        scores += forward(**batch).logits[:, 0].float().tolist()
    model.train(was_training)
    return scores


def run_max_length(folder: Path) -> int | None:
    """The max_length a reward run trained with (its recipe.yaml), so scoring cuts texts where training did."""
    recipe = Path(folder) / RECIPE
    if not recipe.is_file():
        return None
    import yaml

    return ((yaml.safe_load(recipe.read_text(encoding="utf-8")) or {}).get("data") or {}).get("max_length")


class RewardModel:
    """A saved reward-model folder, scoring (prompt, reply) pairs the way it was trained. Also a TRL reward
    function: f(prompts, completions, **columns) -> scores, so RL rewards read texts as training did."""

    def __init__(self, folder: str | Path, trust_remote_code: bool = False):
        from transformers import AutoModelForSequenceClassification

        self.folder = Path(folder)
        require_model_folder(self.folder, "classifier", "a reward run")
        self.model = saved_model(AutoModelForSequenceClassification, self.folder, trust_remote_code).eval()
        if self.model.config.num_labels != 1:
            raise ToolkitError(f"{self.folder}: a reward model has one output; this one has "
                               f"{self.model.config.num_labels}.")
        self.tokenizer = saved_tokenizer(self.folder, trust_remote_code)
        self.max_length = run_max_length(self.folder)
        self.__name__ = f"model:{self.folder}"  # TRL names a reward function's logged column after it

    def score(self, replies: list, prompts: list | None = None, batch_size: int = 32) -> list[float]:
        if prompts is not None and len(prompts) != len(replies):
            raise ToolkitError(f"score: {len(prompts)} prompts for {len(replies)} replies; give one prompt per "
                               f"reply, or one prompt for all.")
        prompts = prompts if prompts is not None else [None] * len(replies)
        chat = bool(self.tokenizer.chat_template)
        sequences = []
        for prompt, reply in zip(prompts, replies, strict=True):
            if chat and isinstance(reply, str):  # a chat-trained reward model reads turns, as it trained
                reply = [{"role": "assistant", "content": reply}]
            elif not chat and isinstance(prompt, str):
                prompt = joined_prompt(prompt)
            sequences.append(reward_ids(self.tokenizer, prompt, reply, self.max_length))
        return score_ids(self.model, self.tokenizer, sequences, batch_size)

    def __call__(self, prompts, completions, **_) -> list[float]:
        from accelerate import PartialState

        self.model.to(PartialState().device)  # beside the policy this process trains
        return self.score(list(completions), list(prompts))
