"""Using a saved model folder: labels from a classifier, text from a causal LM, fills for a masked LM, scores
from a reward model. The public functions (toolkit.predict, generate, fill_mask, score) and what tasks use
while they train (fill_mask_with)."""

from __future__ import annotations

from pathlib import Path

from toolkit.loading import saved_model, saved_tokenizer
from toolkit.run_folder import require_model_folder


def predict(model_dir: str | Path, texts: list[str] | str, batch_size: int = 32,
            trust_remote_code: bool = False) -> list[dict]:
    """Label and score for each text, from a saved classification folder: [{"label": ..., "score": ...}].
    trust_remote_code: run Python code the folder ships (auto_map); off, such a folder is refused."""
    from transformers import AutoModelForSequenceClassification, pipeline

    require_model_folder(model_dir, "classifier", "a classification run")
    model = saved_model(AutoModelForSequenceClassification, model_dir, trust_remote_code)
    classifier = pipeline("text-classification", model=model, tokenizer=saved_tokenizer(model_dir, trust_remote_code))
    single = isinstance(texts, str)
    outputs = classifier([texts] if single else list(texts), batch_size=batch_size, truncation=True)
    return outputs[0] if single else outputs


def generate(model_dir: str | Path, prompts: list[str] | str, max_new_tokens: int = 64, temperature: float = 0.0,
             top_p: float = 1.0, chat: bool | None = None, seed: int = 0,
             trust_remote_code: bool = False) -> list[str] | str:
    """Text from a saved pretrain/SFT folder. Chat models get their template (each prompt is a user turn)
    and stop at the end-of-turn token. temperature 0 is greedy decoding. trust_remote_code: as for predict."""
    from toolkit.generation import generate as run

    return run(model_dir, prompts, max_new_tokens, temperature, top_p, chat, seed, trust_remote_code)


def fill_mask(model_dir: str | Path, texts: list[str] | str, top_k: int = 5,
              trust_remote_code: bool = False) -> list[list[dict]] | list[dict]:
    """Top-k tokens for the [MASK] in each text, from a saved mlm folder: [{"token", "score"}, ...].
    trust_remote_code: as for predict."""
    from transformers import AutoModelForMaskedLM

    require_model_folder(model_dir, "masked LM", "an mlm run")
    model = saved_model(AutoModelForMaskedLM, model_dir, trust_remote_code)
    tokenizer = saved_tokenizer(model_dir, trust_remote_code)
    single = isinstance(texts, str)
    outputs = fill_mask_with(model, tokenizer, [texts] if single else list(texts), top_k)
    return outputs[0] if single else outputs


def score(model_dir: str | Path, texts: list[str] | str, prompts: list[str] | str | None = None,
          batch_size: int = 32, trust_remote_code: bool = False) -> list[float] | float:
    """Reward-model scores for replies (higher = preferred), each read exactly as reward training read it
    (toolkit.reward_model): with a chat template, a user turn and an assistant turn; without, prompt and
    reply joined by a newline and followed by EOS, cut at the run's max_length. One prompt per reply, or one
    prompt for all. trust_remote_code: as for predict."""
    from toolkit.reward_model import RewardModel

    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    if isinstance(prompts, str):
        prompts = [prompts] * len(texts)
    scores = RewardModel(model_dir, trust_remote_code).score(texts, None if prompts is None else list(prompts), batch_size)
    return scores[0] if single else scores


def fill_mask_with(model, tokenizer, texts: list[str], top_k: int = 5) -> list[list[dict]]:
    """Top-k tokens for the first mask in each text. "[MASK]" is read as the model's own mask token."""
    from transformers import pipeline

    filler = pipeline("fill-mask", model=model, tokenizer=tokenizer, device=model.device)
    results = []
    for text in texts:
        output = filler(text.replace("[MASK]", tokenizer.mask_token), top_k=top_k)
        output = output[0] if output and isinstance(output[0], list) else output
        results.append([{"token": row["token_str"], "score": round(float(row["score"]), 4)} for row in output])
    return results
