"""Fills for a masked LM's [MASK]: what an mlm run shows after training and what a saved mlm folder answers
(toolkit.loaded), from the one function below."""

from __future__ import annotations


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
