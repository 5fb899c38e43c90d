"""Reward functions for RL: TRL's form, f(prompts, completions, **columns) -> list[float], one per completion.

Built-ins are named in a recipe by their name here; a user's own by `module:function`. Completions are
strings, or (chat models) lists of turns whose first content is the reply.

A checker (a built-in that compares the reply with the `answer` column) carries two readers: `parse(reply)`,
the answer it reads from a reply or None, and `gold(value)`, the gold it compares with, raising ValueError when
it cannot read one; every gold of every split is read before training (check_golds).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from toolkit import checkers
from toolkit.checkers import text_of
from toolkit.errors import ToolkitError
from toolkit.math_verify_check import INSTALL, MathVerify, installed
from toolkit.schema import suggest

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def last_number(text: str) -> str | None:
    numbers = NUMBER.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None


def exact_match(prompts, completions, answer, **_) -> list[float]:
    """1.0 when the last number in the reply (commas dropped) equals the `answer` column read as a float, else
    0.0. It reads no answer marker: "20, not 18" and "16, 17 or 18" score 1 against 18. `gsm8k` reads the
    stated answer."""
    scores = []
    for completion, expected in zip(completions, answer, strict=True):
        got = last_number(text_of(completion))
        scores.append(1.0 if got is not None and float(got) == float(expected) else 0.0)
    return scores


def float_gold(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ValueError("not a plain number") from error


def gsm8k(prompts, completions, answer, **_) -> list[float]:
    """1.0 when the answer the reply states (after `####`, in \\boxed{}, after "The answer is", or a concluding
    last sentence) equals the gold as a number; the gold is the text after its last `####` (GSM8K's worked
    solutions), else the value. A hedge, a list, a negation or an answer taken back scores 0."""
    scores = []
    for completion, expected in zip(completions, answer, strict=True):
        got = checkers.gsm8k_answer(text_of(completion))
        scores.append(1.0 if got is not None and checkers.to_number(got) == checkers.gold_number(expected) else 0.0)
    return scores


def boxed(prompts, completions, answer, **_) -> list[float]:
    """1.0 when the reply's last \\boxed{} equals the gold: as numbers when both read as one (fractions,
    percent, $, commas), else as normalised text. Replies that box two different values score 0."""
    scores = []
    for completion, expected in zip(completions, answer, strict=True):
        got = checkers.boxed_answer(text_of(completion))
        scores.append(1.0 if got is not None and checkers.comparable(got) == checkers.gold_answer(expected) else 0.0)
    return scores


math_verify = MathVerify()


def exact_text(prompts, completions, answer, **_) -> list[float]:
    """1.0 when the reply, white space folded, equals the `answer` column (a checker for short answers)."""
    return [1.0 if " ".join(text_of(c).split()) == " ".join(str(a).split()) else 0.0
            for c, a in zip(completions, answer, strict=True)]


def has_number(prompts, completions, **_) -> list[float]:
    """1.0 when the reply states a number (a format check)."""
    return [1.0 if last_number(text_of(c)) is not None else 0.0 for c in completions]


def answer_format(prompts, completions, **_) -> list[float]:
    """1.0 for replies of the form "The answer is N." (a format check)."""
    return [1.0 if re.fullmatch(r"\s*The answer is -?\d+\.\s*", text_of(c)) else 0.0 for c in completions]


def digit_share(prompts, completions, **_) -> list[float]:
    """Share of the reply's characters that are digits: an easy, dense signal for smoke tests of RL."""
    return [sum(ch.isdigit() for ch in text_of(c)) / max(1, len(text_of(c))) for c in completions]


def folded(text) -> str | None:
    return " ".join(str(text).split()) or None


def folded_gold(value) -> str:
    if value is None or not folded(value):
        raise ValueError("the gold answer is empty")
    return folded(value)


# The readers behind each checker (see the module's docstring); format rewards have none.
exact_match.parse, exact_match.gold = last_number, float_gold
exact_text.parse, exact_text.gold = folded, folded_gold
gsm8k.parse, gsm8k.gold = checkers.gsm8k_answer, checkers.gold_number
boxed.parse, boxed.gold = checkers.boxed_answer, checkers.gold_answer
GOLD_HINTS = {
    "exact_match": "exact_match reads the gold as one plain number; for GSM8K's worked solutions (ending "
                   "'#### 72') or numbers with thousands separators use `function: gsm8k`, for text answers "
                   "`function: exact_text`",
    "gsm8k": "gsm8k reads a number, or the number after '####'; for non-numeric answers use `function: boxed` "
             "or `function: math_verify`",
}

BUILT_IN = {f.__name__: f for f in (exact_match, gsm8k, boxed, math_verify, exact_text, has_number, answer_format,
                                     digit_share)}


def load_function(spec: str, where: str):
    if spec == "math_verify" and not installed():
        raise ToolkitError(f"{where}: reward function 'math_verify' needs the math-verify package, which is not "
                           f"installed. Install it: {INSTALL}")
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    module_name, sep, name = spec.partition(":")
    if not sep:
        raise ToolkitError(f"{where}: reward function '{spec}' is neither a built-in "
                           f"({', '.join(BUILT_IN)}){suggest(spec, BUILT_IN)} nor 'module:function'.")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an import can fail in many ways; the user needs the module and the cause
        raise ToolkitError(f"{where}: cannot import '{module_name}' for reward function '{spec}': "
                           f"{type(error).__name__}: {error}. Is it on PYTHONPATH?") from error
    function = getattr(module, name, None)
    if not callable(function):
        raise ToolkitError(f"{where}: '{module_name}' has no function '{name}'.")
    return function


def check_function(function, spec: str, sample: dict, where: str) -> None:
    """Call a reward function once on two sample rows before training: it must return two numbers."""
    n = len(sample["prompt"])
    columns = {key: value for key, value in sample.items() if key != "prompt"}
    completions = ["The answer is 4.", "I do not know."][:n]
    try:
        scores = function(prompts=sample["prompt"], completions=completions, **columns)
    except Exception as error:
        raise ToolkitError(f"{where}: reward function '{spec}' failed on a sample: {type(error).__name__}: "
                           f"{error}. It is called as f(prompts, completions, **columns).") from error
    if not isinstance(scores, (list, tuple)) or len(scores) != n:
        got = len(scores) if isinstance(scores, (list, tuple)) else type(scores).__name__
        raise ToolkitError(f"{where}: reward function '{spec}' returned {got} scores for {n} completions; "
                           f"it must return one number per completion.")
    if not all(s is None or isinstance(s, (int, float)) for s in scores):
        raise ToolkitError(f"{where}: reward function '{spec}' returned non-numbers: {list(scores)[:2]}.")


def check_golds(function, spec: str, splits, where: str) -> None:
    """Read every gold (`answer` column) of every split with the checker's gold reader, before training: a gold
    it cannot read would otherwise fail the run when its row comes up. Functions without `gold` pass."""
    read = getattr(function, "gold", None)
    if read is None:
        return
    for name, split in splits.items():
        if "answer" not in split.column_names:
            raise ToolkitError(f"{where}: reward function '{spec}' compares replies with an 'answer' column, and "
                               f"split '{name}' has none (columns: {', '.join(split.column_names)}).")
        seen = set()
        for row, value in enumerate(split["answer"], 1):
            key = repr(value)
            if key in seen:
                continue
            try:
                read(value)
            except (ValueError, TypeError, ArithmeticError) as error:
                hint = GOLD_HINTS.get(spec, "check the answer column, or choose a checker that reads this form")
                raise ToolkitError(f"{where}: reward function '{spec}' cannot read the answer of split '{name}', "
                                   f"row {row}: {str(value)[-80:]!r} ({error}). Fix the data, or: {hint}.") from error
            seen.add(key)


def has_chat_template(folder: Path) -> bool:
    import json

    config = folder / "tokenizer_config.json"
    return (folder / "chat_template.jinja").is_file() or (
        config.is_file() and bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template")))


def check_reward_model(path: str, where: str, conversational: bool = False) -> str:
    """A reward model folder must hold a one-output sequence classifier (what TRL loads from a path), and
    read the policy's format: TRL shows a chat policy's turns to it through its own chat template."""
    import json

    folder = Path(path)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ToolkitError(f"{where}: reward model '{path}' is not a model folder (no config.json). Point to "
                           f"the output_dir of a reward run.")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    labels = config.get("num_labels", len(config.get("id2label") or {}) or 2)
    if not any(a.endswith("ForSequenceClassification") for a in architectures) or labels != 1:
        raise ToolkitError(f"{where}: '{path}' is not a one-output classifier ({architectures}, {labels} "
                           f"outputs). A reward model comes from a `task: reward` run.")
    if conversational and not has_chat_template(folder):
        raise ToolkitError(f"{where}: the policy is a chat model but reward model '{path}' was trained on plain "
                           f"text (its tokenizer has no chat template). Train the reward model from the SFT "
                           f"model, or on conversational pairs, so it reads what the policy writes.")
    return str(folder)
