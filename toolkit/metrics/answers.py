"""What a generative run now writes: greedy answers to its held-out prompts, before and after training, each
scored against the reference reply where the data has one, and for the signs of a policy gaming its reward.

Per answer: exact match and token F1 (SQuAD's normalisation: lower case, no punctuation or articles), ROUGE-L
(the rouge-score package, offline), length in tokens, whether generation stopped at the end-of-turn token
before max_new_tokens, distinct-1 and distinct-2 (unique share of word uni- and bigrams) and the longest word
n-gram that repeats ("the the the ..." has a long one), and with eval.judge, the judge's score (toolkit.metrics.judge).
Every row is saved (generations.jsonl); the means in metrics.json are over those rows.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.chat import apply_template
from toolkit.run_folder import GENERATIONS

SCORES = ("exact_match", "f1", "rouge_l", "length", "stopped", "distinct_1", "distinct_2", "longest_repeat", "judge")


@dataclass
class Prompt:
    shown: str  # the prompt as a person reads it
    turns: list | str  # what the model is given: chat turns, or plain text (no chat template)
    reference: str | None


def prompt_of(row: dict) -> Prompt | None:
    """A held-out row's prompt and reference reply, in any data shape the generative tasks read."""
    if "messages" in row:
        turns = row["messages"]
        last = max((i for i, turn in enumerate(turns) if turn["role"] == "assistant"), default=None)
        if not last:
            return None
        return Prompt(turns[last - 1]["content"], turns[:last], turns[last]["content"])
    prompt = row.get("prompt")
    if prompt is None:
        return None
    reply = row.get("completion") if "completion" in row else row.get("chosen", row.get("answer"))
    if row.get("label") is False:  # KTO: an undesirable reply is no reference
        reply = None
    if isinstance(reply, list):
        reply = next((turn["content"] for turn in reply if turn.get("role") == "assistant"), None)
    shown = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    return Prompt(shown, prompt, None if reply is None else str(reply))


def held_out_prompts(splits, limit: int) -> tuple[str | None, list[Prompt]]:
    """The first `limit` distinct prompts of test (validation when there is no test split). A prompt asked
    twice (KTO: once with a desirable reply, once with an undesirable one) is answered once, against the
    desirable reply, so tasks on the same pairs answer the same prompts."""
    name = "test" if "test" in splits else "validation" if "validation" in splits else None
    if name is None or limit <= 0:
        return None, []
    found: dict[str, Prompt] = {}
    for row in splits[name]:
        prompt = prompt_of(row)
        if prompt is None:
            continue
        key = json.dumps(prompt.turns, sort_keys=True)
        if key not in found and len(found) == limit:
            break
        if key not in found or found[key].reference is None:
            found[key] = prompt
    return name, list(found.values())


def formatted(tokenizer, prompt: Prompt) -> str:
    if isinstance(prompt.turns, list):
        fix = "Fix the tokenizer's chat template, or set eval.generations: 0 to skip the held-out answers."
        return apply_template(tokenizer, prompt.turns, fix, tokenize=False, add_generation_prompt=True)
    return prompt.turns


def fitting(prompts: list[Prompt], model, tokenizer, max_new_tokens: int) -> list[Prompt]:
    """The prompts that leave room for an answer in the model's position table."""
    from toolkit.models import max_positions

    limit = max_positions(model)
    if not limit:
        return prompts
    room = limit - min(max_new_tokens, limit // 2)
    return [p for p in prompts if len(tokenizer(formatted(tokenizer, p), add_special_tokens=False)["input_ids"]) <= room]


def generate_answers(model, tokenizer, prompts: list[Prompt], max_new_tokens: int) -> list[dict]:
    """Greedy answers, batched: {text, length (tokens), stopped (at the end-of-turn token)}."""
    from toolkit.generation import new_tokens

    texts = [formatted(tokenizer, p) for p in prompts]
    answers = []
    for start in range(0, len(texts), 16):
        for ids, stopped in new_tokens(model, tokenizer, texts[start:start + 16], max_new_tokens):
            answers.append({"text": tokenizer.decode(ids, skip_special_tokens=True).strip(), "length": len(ids),
                            "stopped": stopped})
    return answers


def normalised_words(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def token_f1(answer: str, reference: str) -> float:
    ours, theirs = normalised_words(answer), normalised_words(reference)
    common = sum((Counter(ours) & Counter(theirs)).values())
    if not ours or not theirs:
        return float(ours == theirs)
    if common == 0:
        return 0.0
    precision, recall = common / len(ours), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


def rouge_l(answer: str, reference: str) -> float:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"]).score(reference, answer)["rougeL"].fmeasure


def distinct(words: list[str], n: int) -> float:
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def longest_repeat(words: list[str]) -> int:
    """The longest run of words that occurs twice or more in the answer (0: no word repeats)."""
    longest = 0
    for n in range(1, len(words)):
        grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
        if max(grams.values()) < 2:
            break
        longest = n
    return longest


def scored(answer: dict, reference: str | None) -> dict:
    words = answer["text"].split()
    scores = {"length": answer["length"], "stopped": answer["stopped"], "distinct_1": distinct(words, 1),
              "distinct_2": distinct(words, 2), "longest_repeat": longest_repeat(words)}
    if reference is not None:
        scores.update(exact_match=normalised_words(answer["text"]) == normalised_words(reference),
                      f1=token_f1(answer["text"], reference), rouge_l=rouge_l(answer["text"], reference))
    return {"text": answer["text"], **scores}


def means(rows: list[dict], when: str) -> dict:
    """Each score's mean over the rows that have it (the reference scores: rows with a reference)."""
    out = {}
    for key in SCORES:
        values = [float(row[when][key]) for row in rows if key in row[when]]
        if values:
            out[key] = sum(values) / len(values)
    return out


# The answer scores a summary line compares, by name as said; higher is better for each.
COMPARED = {"exact_match": "exact match", "f1": "token F1", "rouge_l": "ROUGE-L", "judge": "judge"}


def worse(rows: list[dict]) -> list[str]:
    """The compared scores that fell by more than chance would move them: the mean of the per-prompt changes
    (after - before, on the same prompts) below zero by more than twice its standard error. A few prompts
    answered differently move a mean over 46 prompts by a few hundredths either way."""
    fell = []
    for key in COMPARED:
        changes = [float(row["after"][key]) - float(row["before"][key]) for row in rows
                   if key in row.get("before", {}) and key in row.get("after", {})]
        if len(changes) < 2:
            continue
        mean = sum(changes) / len(changes)
        spread = (sum((c - mean) ** 2 for c in changes) / (len(changes) - 1)) ** 0.5
        if mean < 0 and -mean > 2 * spread / len(changes) ** 0.5:
            fell.append(key)
    return fell


def change_lines(summary: dict | None) -> list[str]:
    """What a run's summary says of its held-out answers (metrics.json's "generations"): each reference score
    before -> after, and plainly when one fell, since a task's own metric (DPO's reward accuracy, say) can rise
    while the answers get worse."""
    if not summary or "before" not in summary or "after" not in summary:
        return []
    before, after = summary["before"], summary["after"]
    shown = [key for key in COMPARED if key in before and key in after]
    if not shown:
        return []
    lines = [f"answers to {summary['prompts']} held-out prompts ({summary['split']}, greedy): " + ", ".join(
        f"{COMPARED[key]} {before[key]:.3f} -> {after[key]:.3f}" for key in shown)]
    fell = [COMPARED[key] for key in summary.get("worse", [])]
    if fell:
        lines.append(f"warning: the held-out answers got worse ({', '.join(fell)} fell by more than chance moves "
                     f"them), which the task's own metric above does not show: read generations.jsonl before "
                     f"trusting this model.")
    return lines


@dataclass
class HeldOutAnswers:
    """Greedy answers to a run's held-out prompts, taken before and after training."""

    split: str | None
    prompts: list[Prompt]
    max_new_tokens: int
    answers: dict = field(default_factory=dict)  # "before" / "after" -> answers

    judge: str | None = None  # eval.judge: a model that scores every answer (toolkit.metrics.judge)
    too_long: int = 0  # prompts left out: no room for an answer in the model's positions

    @classmethod
    def of(cls, recipe, splits) -> HeldOutAnswers:
        split, prompts = held_out_prompts(splits, recipe.eval.generations)
        return cls(split, prompts, recipe.eval.max_new_tokens, judge=recipe.eval.judge)

    def take(self, when: str, trainer, tokenizer) -> None:
        """Answers of the trainer's model now; on the main process only (the others have nothing to write).
        Prompts too long to leave room for an answer are left out (and counted) at the first call."""
        if not self.prompts or not trainer.is_world_process_zero():
            return
        if not self.answers:
            kept = fitting(self.prompts, trainer.model, tokenizer, self.max_new_tokens)
            self.too_long, self.prompts = len(self.prompts) - len(kept), kept
        if self.prompts:
            self.answers[when] = generate_answers(trainer.model, tokenizer, self.prompts, self.max_new_tokens)

    def rows(self) -> list[dict]:
        return [{"prompt": prompt.shown, "reference": prompt.reference,
                 **{when: scored(answers[index], prompt.reference) for when, answers in self.answers.items()}}
                for index, prompt in enumerate(self.prompts)]

    def write(self, output_dir: Path, trainer) -> tuple[dict, dict]:
        """(artifacts, metrics): generations.jsonl (every row), and {"generations": {split, prompts, before, after}}
        with the means over those rows. Written by the main process."""
        if not self.prompts or "after" not in self.answers or not trainer.is_world_process_zero():
            return {}, {}
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        rows = self.rows()
        if self.judge:
            from toolkit.metrics.judge import Judge

            scorer = Judge(self.judge)
            for when in self.answers:
                marks = scorer.scores([row["prompt"] for row in rows], [row[when]["text"] for row in rows],
                                      [row["reference"] for row in rows])
                for row, mark in zip(rows, marks, strict=True):
                    if mark is not None:
                        row[when]["judge"] = mark
        path = Path(output_dir) / GENERATIONS
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        summary = {"split": self.split, "prompts": len(rows), "too_long_to_answer": self.too_long,
                   **{when: means(rows, when) for when in self.answers}, "worse": worse(rows)}
        return {"generations": path}, {"generations": summary}
