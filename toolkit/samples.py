"""Samples from the model while it trains: a person judges a language model by reading it."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from toolkit.files import write_atomic
from toolkit.generation import generate_with
from toolkit.progress import say


# How a task's samples are drawn (TaskFacts.samples): a base model reads better sampled, a chat model greedy.
STYLES = {"base": {"chat": False, "temperature": 0.8}, "chat": {"chat": None, "temperature": 0.0}}


class SampleCallback(TrainerCallback):
    """At each evaluation, continuations of the recipe's eval.prompts, printed and kept.

    temperature 0 (greedy) suits a chat model, which should give its one trained answer; a base model
    reads better sampled (greedy decoding of a small LM loops or stops at once). The seed is fixed, so
    samples from step to step differ only by what the model learned.
    """

    def __init__(self, tokenizer, prompts: list[str], max_new_tokens: int, chat: bool | None = None,
                 temperature: float = 0.0):
        self.tokenizer, self.prompts, self.max_new_tokens, self.chat = tokenizer, prompts, max_new_tokens, chat
        self.temperature = temperature
        self.rows: list[dict] = []

    @classmethod
    def of(cls, recipe, tokenizer, style: str) -> SampleCallback | None:
        """Samples of the recipe's eval.prompts in a task's style (STYLES); None without prompts."""
        if not recipe.eval.prompts:
            return None
        return cls(tokenizer, list(recipe.eval.prompts), recipe.eval.max_new_tokens, **STYLES[style])

    def attach(self, trainer) -> None:
        """Sample from each evaluation on, starting with the model as it is now, before its first step. Attached
        after the evaluation before training, which it would otherwise sample too."""
        trainer.add_callback(self)
        if trainer.is_world_process_zero():
            self.sample(trainer.model, 0, "before")

    def sample_trained(self, trainer) -> None:
        """The model as trained (whatever the last evaluation saw)."""
        if trainer.is_world_process_zero():
            self.sample(trainer.model, trainer.state.global_step, f"step {trainer.state.global_step}")

    def sample(self, model, step: int, label: str) -> None:
        if self.rows and self.rows[-1]["step"] == step and step > 0:
            return  # the end-of-training evaluation can follow the last epoch's at the same step
        outputs = generate_with(model, self.tokenizer, self.prompts, self.max_new_tokens, chat=self.chat,
                                temperature=self.temperature, top_p=0.95)
        for prompt, output in zip(self.prompts, outputs, strict=True):
            self.rows.append({"step": step, "when": label, "prompt": prompt, "output": output})
            say(f"  [{label}] {prompt!r} -> {output!r}")

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero and self.prompts and model is not None:
            self.sample(model, state.global_step, f"step {state.global_step}")

    def save(self, path: Path) -> Path | None:
        if not self.rows:
            return None
        write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows))
        return path
