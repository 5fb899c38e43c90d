"""A judge of written answers, and the win rate of one run's answers over another's on the same prompts.

The judge is a model folder (or hub id): a reward model (one output) scores each (prompt, answer) as it was
trained to; any causal LM is prompted with a 0-100 rubric, as the book scores instruction answers with a
larger model, and its greedy reply's first number is the score (an answer it does not score is counted, not
guessed). The win rate counts a tie as half a win; its 95% interval is a seeded bootstrap over the prompts.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.run_folder import GENERATIONS

RUBRIC = ("Given the input `{prompt}` and the correct output `{reference}`, score the model response "
          "`{answer}` on a scale from 0 to 100, where 100 is the best score. Respond with the integer number only.")
RUBRIC_NO_REFERENCE = ("Given the input `{prompt}`, score the model response `{answer}` on a scale from 0 to 100, "
                       "where 100 is the best score. Respond with the integer number only.")
BOOTSTRAP = 2000
REPLY_TOKENS = 6  # room for the judge's number


class Judge:
    """Scores answers: a reward-model folder, or a causal LM prompted with RUBRIC."""

    def __init__(self, name: str, trust_remote_code: bool = False):
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from toolkit.loading import from_pretrained
        from toolkit.models import resolve

        self.name, self.too_long = name, 0  # too_long: asks longer than a language-model judge's positions
        target, is_local = resolve(name, "judge")

        def load(loader, what: str):
            return from_pretrained(loader, target, is_local, "judge", what, trust_remote_code, shown=name)

        config = load(AutoConfig.from_pretrained, "config")
        self.is_reward_model = any(arch.endswith("ForSequenceClassification") for arch in config.architectures or [])
        if self.is_reward_model:
            from toolkit.reward_model import RewardModel

            self.reward_model = RewardModel(target, trust_remote_code)
        else:
            self.model = load(AutoModelForCausalLM.from_pretrained, "model").eval()
            self.tokenizer = load(AutoTokenizer.from_pretrained, "tokenizer")
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token

    def scores(self, prompts: list[str], answers: list[str], references: list[str | None]) -> list[float | None]:
        if self.is_reward_model:
            return self.reward_model.score(answers, prompts)
        from toolkit.generation import generate_with

        asks = [(RUBRIC if reference else RUBRIC_NO_REFERENCE).format(prompt=prompt, answer=answer,
                                                                      reference=reference)
                for prompt, answer, reference in zip(prompts, answers, references, strict=True)]
        from toolkit.models import max_positions

        limit = max_positions(self.model)
        fits = [not limit or len(self.tokenizer(ask)["input_ids"]) + REPLY_TOKENS <= limit for ask in asks]
        fitting = [ask for ask, fit in zip(asks, fits, strict=True) if fit]
        replies = iter(generate_with(self.model, self.tokenizer, fitting, max_new_tokens=REPLY_TOKENS)
                       if fitting else [])
        self.too_long += fits.count(False)
        return [first_number(next(replies)) if fit else None for fit in fits]  # too long for the judge: unscored


def first_number(reply: str) -> float | None:
    """The rubric's score in a judge's reply: its first integer, if it is between 0 and 100."""
    found = re.search(r"\d+", reply)
    return float(found.group()) if found and 0 <= int(found.group()) <= 100 else None


def win_rate(first: list[float], second: list[float], seed: int = 0) -> dict:
    """How often the first scores above the second on the same prompts (a tie is half a win), with a 95%
    bootstrap interval over the prompts (seeded)."""
    if len(first) != len(second) or not first:
        raise ToolkitError("win rate: give the same, non-empty list of prompts' scores for both.")
    points = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(first, second, strict=True)]
    rng = random.Random(seed)
    resampled = sorted(sum(rng.choices(points, k=len(points))) / len(points) for _ in range(BOOTSTRAP))
    return {"win_rate": sum(points) / len(points), "low": resampled[int(0.025 * BOOTSTRAP)],
            "high": resampled[int(0.975 * BOOTSTRAP) - 1], "wins": points.count(1.0), "ties": points.count(0.5),
            "losses": points.count(0.0), "prompts": len(points)}


def read_generations(folder: Path) -> list[dict]:
    path = Path(folder) / GENERATIONS
    if not path.is_file():
        raise ToolkitError(f"{folder}: no {GENERATIONS}; a finished sft, dpo, kto, orpo or rlhf run writes its "
                           f"answers to held-out prompts there.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def judge_runs(first: Path, second: Path, judge: str, trust_remote_code: bool = False) -> dict:
    """Each run's answers (after training) to the same held-out prompts, scored by `judge`; the first run's win
    rate over the second, and every prompt's two scores. trust_remote_code: let the judge's folder run its own
    code (auto_map)."""
    rows_a, rows_b = read_generations(first), read_generations(second)
    if [row["prompt"] for row in rows_a] != [row["prompt"] for row in rows_b]:
        raise ToolkitError(f"compare --judge: {first} and {second} answered different held-out prompts; the win "
                           f"rate needs the same ones (the same test data and eval.generations).")
    scorer = Judge(judge, trust_remote_code)
    prompts, references = [row["prompt"] for row in rows_a], [row["reference"] for row in rows_a]
    scores_a = scorer.scores(prompts, [row["after"]["text"] for row in rows_a], references)
    scores_b = scorer.scores(prompts, [row["after"]["text"] for row in rows_b], references)
    scored = [index for index, (a, b) in enumerate(zip(scores_a, scores_b, strict=True))
              if a is not None and b is not None]
    if not scored:
        long = f" ({scorer.too_long} asks were longer than its position table)" if scorer.too_long else ""
        raise ToolkitError(f"compare --judge: {judge} gave no usable score (a number from 0 to 100) to any "
                           f"answer{long}. Use a reward run's folder or a larger instruction-following model.")
    result = win_rate([scores_a[i] for i in scored], [scores_b[i] for i in scored])
    rows = [{"prompt": prompts[i], "first": rows_a[i]["after"]["text"], "second": rows_b[i]["after"]["text"],
             "first_score": scores_a[i], "second_score": scores_b[i]} for i in range(len(prompts))]
    return {"judge": judge, "first": str(first), "second": str(second), **result,
            "unscored": len(prompts) - len(scored), "rows": rows}


def summary_line(judged: dict) -> str:
    return (f"{judged['first']} wins {judged['win_rate']:.1%} (95% interval {judged['low']:.1%}–{judged['high']:.1%}) "
            f"of {judged['prompts']} held-out prompts over {judged['second']}: {judged['wins']} wins, "
            f"{judged['ties']} ties, {judged['losses']} losses" +
            (f"; {judged['unscored']} answers the judge did not score" if judged["unscored"] else ""))
