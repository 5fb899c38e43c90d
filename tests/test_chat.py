"""`toolkit chat` keeps the conversation: each turn goes through the chat template with every turn before it,
/reset starts a new one, and when the conversation outgrows the model's positions its oldest exchanges are
dropped, which the command says once."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2
from toolkit import generation
from toolkit.cli import main
from toolkit.generation import chat_turn, fitting_history, load_for_generation

INSTRUCTIONS = ROOT / "toolkit" / "assets" / "toy_instructions.jsonl"
LONG = "Name the opposite of each word in this long list: hot, cold, up, down, left, right, big, small, old, new."


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sft")
    recipe = {"task": "sft", "model": TINY_GPT2, "data": {"train": str(INSTRUCTIONS), "max_length": 48, "limit": 32},
              "eval": {"generations": 0},
              "training": {"output_dir": str(tmp / "run"), "max_steps": 2, "disable_tqdm": True}}
    return toolkit.train(recipe).output_dir


@pytest.fixture
def prompts_seen(monkeypatch) -> list[str]:
    """Every formatted text the model is asked to continue."""
    seen, real = [], generation.new_tokens

    def spy(model, tokenizer, texts, *args, **kwargs):
        seen.extend(texts)
        return real(model, tokenizer, texts, *args, **kwargs)

    monkeypatch.setattr(generation, "new_tokens", spy)
    return seen


def turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def test_the_oldest_exchanges_go_first_and_a_system_turn_stays():
    history = [turn("system", "s"), turn("user", "u1"), turn("assistant", "a1"), turn("user", "u2"),
               turn("assistant", "a2"), turn("user", "u3")]

    def length(turns):
        return sum(len(t["content"]) for t in turns)

    assert fitting_history(history, length, room=100) == (history, 0)
    # Dropping u1 alone would leave the conversation opening on an assistant turn: the whole exchange goes.
    assert fitting_history(history, length, room=9) == ([history[0], *history[3:]], 2)
    assert fitting_history(history, length, room=3) == ([history[0], history[5]], 4)
    assert fitting_history(history[1:], length, room=2) == ([history[5]], 4)


def test_each_turn_sees_the_whole_conversation(chat_model, prompts_seen):
    model, tokenizer = load_for_generation(chat_model)
    first = chat_turn(model, tokenizer, [], "What is hot?", max_new_tokens=6)
    second = chat_turn(model, tokenizer, first.history, "And cold?", max_new_tokens=6)
    assert second.history == [turn("user", "What is hot?"), turn("assistant", first.reply),
                              turn("user", "And cold?"), turn("assistant", second.reply)]
    assert first.dropped == second.dropped == 0
    assert prompts_seen[1] == tokenizer.apply_chat_template(second.history[:3], tokenize=False,
                                                            add_generation_prompt=True)


def test_a_conversation_longer_than_the_model_loses_its_oldest_exchanges(chat_model, prompts_seen):
    model, tokenizer = load_for_generation(chat_model)
    history, dropped = [], []
    for message in [LONG] * 6 + ["What is hot?"]:
        last = chat_turn(model, tokenizer, history, message, max_new_tokens=8)
        history = last.history
        dropped.append(last.dropped)
    assert dropped[0] == 0 and sum(dropped) > 0 and all(count % 2 == 0 for count in dropped), dropped
    assert history[0]["role"] == "user" and history[-2:] == [turn("user", "What is hot?"), turn("assistant", last.reply)]
    positions = model.config.n_positions
    assert all(len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= positions - 8 for text in prompts_seen)


def test_chat_keeps_the_conversation_until_reset(chat_model, prompts_seen, monkeypatch, capsys):
    lines = iter(["What is hot?", "And cold?", "/reset", "What is hot?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat", str(chat_model), "--max-new-tokens", "6"]) == 0
    out = capsys.readouterr().out
    assert "/reset" in out.splitlines()[0] and out.count("model> ") == 3
    assert "What is hot?" in prompts_seen[1] and "And cold?" in prompts_seen[1]
    assert prompts_seen[2] == prompts_seen[0]  # after /reset, the first question alone again


def test_chat_says_once_that_it_dropped_the_oldest_turns(chat_model, prompts_seen, monkeypatch, capsys):
    lines = iter([LONG] * 8 + [""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat", str(chat_model), "--max-new-tokens", "8"]) == 0
    out = capsys.readouterr().out
    assert out.count("model> ") == 8 and out.count("oldest") == 1, out


def test_a_message_too_long_for_the_model_alone_is_refused_and_the_chat_goes_on(chat_model, monkeypatch, capsys):
    lines = iter([" ".join([LONG] * 8), "What is hot?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat", str(chat_model), "--max-new-tokens", "6"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("model> ") == 1 and "too long" in captured.err
