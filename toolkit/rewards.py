"""Reward functions for RL: TRL's form, f(prompts, completions, **columns) -> list[float], one per completion.

Built-ins are named in a recipe by their name here; a user's own by `module:function`. Completions are
strings, or (chat models) lists of turns whose first content is the reply.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def text_of(completion) -> str:
    return completion if isinstance(completion, str) else completion[0]["content"]


def last_number(text: str) -> str | None:
    numbers = NUMBER.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None


def exact_match(prompts, completions, answer, **_) -> list[float]:
    """1.0 when the last number in the reply equals the `answer` column, else 0.0 (a maths checker)."""
    scores = []
    for completion, expected in zip(completions, answer, strict=True):
        got = last_number(text_of(completion))
        scores.append(1.0 if got is not None and float(got) == float(expected) else 0.0)
    return scores


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


BUILT_IN = {f.__name__: f for f in (exact_match, exact_text, has_number, answer_format, digit_share)}


def load_function(spec: str, where: str):
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
