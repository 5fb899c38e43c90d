"""Text out of a causal LM: batched, chat-formatted when the tokenizer has a template, stopping at end of turn;
and a conversation's next turn, with the turns before it (what `toolkit chat` keeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import torch

from toolkit.chat import apply_template, end_of_turn_ids
from toolkit.errors import ToolkitError
from toolkit.loading import saved_model, saved_tokenizer
from toolkit.models import max_positions
from toolkit.run_folder import require_model_folder


def load_for_generation(model_dir: str | Path, trust_remote_code: bool = False):
    """The model (in eval mode) and tokenizer of a saved causal-LM folder: what toolkit.load keeps for one and what
    `toolkit chat` talks to."""
    from transformers import AutoModelForCausalLM

    require_model_folder(model_dir, "causal LM", "a pretrain, sft, dpo, kto, orpo or rlhf run")
    tokenizer = saved_tokenizer(model_dir, trust_remote_code)
    model = saved_model(AutoModelForCausalLM, model_dir, trust_remote_code)
    return model.eval(), tokenizer


def generate_with(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, temperature: float = 0.0,
                  top_p: float = 1.0, chat: bool | None = None, seed: int = 0) -> list[str]:
    """Completions for `prompts` (only the new text). temperature 0 means greedy.

    chat: apply the tokenizer's chat template (each prompt is one user turn); None = when it has one.
    """
    chat = bool(tokenizer.chat_template) if chat is None else chat
    texts = [chat_text(tokenizer, [{"role": "user", "content": p}]) for p in prompts] if chat else list(prompts)
    return [tokenizer.decode(ids, skip_special_tokens=True).strip()
            for ids, _ in new_tokens(model, tokenizer, texts, max_new_tokens, sampling_for(temperature, top_p), seed)]


def sampling_for(temperature: float, top_p: float) -> dict:
    return {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}


def chat_text(tokenizer, turns: list[dict]) -> str:
    """The turns through the tokenizer's chat template, ending where the assistant's answer starts."""
    fix = ("Fix its template (chat_template.jinja in that folder), or generate plain text without it: "
           "toolkit generate --no-chat (Python: chat=False).")
    return apply_template(tokenizer, turns, fix, tokenize=False, add_generation_prompt=True)


class MessageTooLong(ToolkitError):
    """A chat message that, alone, leaves the model no room to answer."""


class ChatTurn(NamedTuple):
    reply: str
    history: list[dict]  # the conversation after this turn: the turns kept, the message and the reply
    dropped: int  # earlier turns left out so that the conversation fits the model's positions


def fitting_history(turns: list[dict], length: Callable[[list[dict]], int], room: int) -> tuple[list[dict], int]:
    """The newest turns whose `length` (tokens, as formatted) is within `room`, and how many were dropped. Whole
    exchanges go, oldest first, so that what is left still opens on a user turn, as templates expect; a leading
    system turn and the last turn always stay."""
    start = 1 if turns and turns[0]["role"] == "system" else 0
    kept = list(turns)
    while length(kept) > room and len(kept) - start > 1:
        del kept[start]
        while len(kept) - start > 1 and kept[start]["role"] != "user":
            del kept[start]
    return kept, len(turns) - len(kept)


def chat_turn(model, tokenizer, history: list[dict], message: str, max_new_tokens: int = 64,
              temperature: float = 0.0, top_p: float = 1.0, seed: int = 0) -> ChatTurn:
    """The model's answer to `message` after the conversation so far: every turn of `history` goes through the
    chat template with it, save the oldest exchanges once they and the answer no longer fit the model's
    positions (room for the answer as held-out answers leave it: max_new_tokens, at most half the positions)."""
    turns, dropped = [*history, {"role": "user", "content": message}], 0
    limit = max_positions(model)
    if limit:
        room = limit - min(max_new_tokens, limit // 2)

        def length(kept: list[dict]) -> int:
            return len(tokenizer(chat_text(tokenizer, kept), add_special_tokens=False)["input_ids"])

        turns, dropped = fitting_history(turns, length, room)
        if (needed := length(turns)) > room:
            raise MessageTooLong(f"that message is too long for this model: with the chat template it takes "
                                 f"{needed} of the {limit} positions, and at most {room} leave room for the "
                                 f"answer. Send a shorter one.")
    ((ids, _),) = new_tokens(model, tokenizer, [chat_text(tokenizer, turns)], max_new_tokens,
                             sampling_for(temperature, top_p), seed)
    reply = tokenizer.decode(ids, skip_special_tokens=True).strip()
    return ChatTurn(reply, [*turns, {"role": "assistant", "content": reply}], dropped)


def new_tokens(model, tokenizer, texts: list[str], max_new_tokens: int, sampling: dict | None = None,
               seed: int = 0) -> list[tuple[list[int], bool]]:
    """For each formatted text: the tokens generated after it (up to and without the end-of-turn token), and
    whether generation stopped there rather than at max_new_tokens. Greedy unless `sampling` says otherwise."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens follow each prompt directly
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    batch = batch.to(model.device)
    limit = max_positions(model)
    if limit:
        max_new_tokens = max(1, min(max_new_tokens, limit - batch["input_ids"].shape[1]))
    sampling = sampling or {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    was_training = model.training
    model.eval()
    # A private random stream: sampling in the middle of training must not move the trainer's own RNG.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        output = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=end_of_turn_ids(tokenizer),
                                pad_token_id=tokenizer.pad_token_id, **sampling)
    model.train(was_training)
    stops, pad = set(end_of_turn_ids(tokenizer)), tokenizer.pad_token_id
    generated = []
    for row in output[:, batch["input_ids"].shape[1]:].tolist():
        end = next((i for i, token in enumerate(row) if token in stops), None)
        kept = row[:end] if end is not None else [token for token in row if token != pad]
        generated.append((kept, end is not None))
    return generated

