"""Using a saved model folder in one call: labels from a classifier, text from a causal LM, fills for a masked
LM, scores from a reward model. The public functions (toolkit.predict, generate, fill_mask, score) load the
folder (toolkit.loaded) and ask the handle, so they and `toolkit.load(run)` are one code path.

Each call loads the folder again: for several calls, `toolkit.load(run)` keeps the model. And these answer one
string with one result and a list with a list, as they always have (the CLI and existing callers rely on it);
the handle's methods take and return lists only."""

from __future__ import annotations

from pathlib import Path

from toolkit.loaded import load_for


def predict(model_dir: str | Path, texts: list[str] | str, batch_size: int = 32,
            trust_remote_code: bool = False) -> list[dict] | dict:
    """Label and score for each text, from a saved classification folder: [{"label": ..., "score": ...}].
    trust_remote_code: run Python code the folder ships (auto_map); off, such a folder is refused."""
    handle = load_for("predict", model_dir, trust_remote_code)
    return one_or_all(texts, lambda items: handle.predict(items, batch_size))


def generate(model_dir: str | Path, prompts: list[str] | str, max_new_tokens: int = 64, temperature: float = 0.0,
             top_p: float = 1.0, chat: bool | None = None, seed: int = 0,
             trust_remote_code: bool = False) -> list[str] | str:
    """Text from a saved pretrain/SFT folder. Chat models get their template (each prompt is a user turn)
    and stop at the end-of-turn token. temperature 0 is greedy decoding. trust_remote_code: as for predict."""
    handle = load_for("generate", model_dir, trust_remote_code)
    return one_or_all(prompts, lambda items: handle.generate(items, max_new_tokens, temperature, top_p, chat, seed))


def fill_mask(model_dir: str | Path, texts: list[str] | str, top_k: int = 5,
              trust_remote_code: bool = False) -> list[list[dict]] | list[dict]:
    """Top-k tokens for the [MASK] in each text, from a saved mlm folder: [{"token", "score"}, ...].
    trust_remote_code: as for predict."""
    handle = load_for("fill_mask", model_dir, trust_remote_code)
    return one_or_all(texts, lambda items: handle.fill_mask(items, top_k))


def score(model_dir: str | Path, texts: list[str] | str, prompts: list[str] | str | None = None,
          batch_size: int = 32, trust_remote_code: bool = False) -> list[float] | float:
    """Reward-model scores for replies (higher = preferred), each read exactly as reward training read it
    (toolkit.reward_model): with a chat template, a user turn and an assistant turn; without, prompt and
    reply joined by a newline and followed by EOS, cut at the run's max_length. One prompt per reply, or one
    prompt for all. trust_remote_code: as for predict."""
    handle = load_for("score", model_dir, trust_remote_code)
    return one_or_all(texts, lambda items: handle.score(items, prompts, batch_size))


def one_or_all(inputs, answer):
    """answer(list of inputs), unwrapped when the caller gave one string."""
    if isinstance(inputs, str):
        return answer([inputs])[0]
    return answer(list(inputs))
