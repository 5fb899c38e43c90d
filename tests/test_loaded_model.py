"""toolkit.load(run): a saved folder loaded once answers many calls with the same model, always with a list (one
entry per input), exactly what the module-level toolkit.predict / generate / fill_mask / score answer; a method
the model cannot do names the one that fits, and a folder without a model is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import toolkit
from conftest import ROOT, TINY_BERT, TINY_GPT2, classification_recipe
from toolkit import load
from toolkit.loaded import LoadedModel

ASSETS = ROOT / "toolkit" / "assets"
PROMPTS = ["What is the opposite of hot?", "Name a colour.", "Count to three."]
TEXTS = ["WINNER!! Claim your free prize now", "Call me when you land", "See you at lunch"]
MASKED = ["The [MASK] statement is used.", "A list is a [MASK] sequence."]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny finished run of each kind a handle answers for (one training step each: a few seconds in all)."""
    tmp = tmp_path_factory.mktemp("runs")
    steps = {"max_steps": 1, "disable_tqdm": True}
    sft = {"task": "sft", "model": TINY_GPT2, "eval": {"generations": 0},
           "data": {"train": str(ASSETS / "toy_instructions.jsonl"), "max_length": 48, "limit": 32},
           "training": {"output_dir": str(tmp / "sft"), **steps}}
    reward = {"task": "reward", "model": TINY_GPT2,
              "data": {"train": str(ASSETS / "toy_preferences.jsonl"), "split": {"validation": 0.15, "test": 0.0},
                       "max_length": 64, "limit": 32},
              "training": {"output_dir": str(tmp / "reward"), **steps}}
    mlm = {"task": "mlm", "model": {**TINY_BERT, "tokenizer": {"vocab_size": 300}},
           "data": {"train": str(ASSETS / "pydoc_corpus.jsonl"), "split": {"validation": 0.0, "test": 0.0},
                    "max_length": 32, "limit": 32},
           "training": {"output_dir": str(tmp / "mlm"), **steps}}
    return {"classifier": toolkit.train(classification_recipe(tmp / "c", TINY_GPT2, max_steps=1)).output_dir,
            "causal LM": toolkit.train(sft).output_dir, "reward model": toolkit.train(reward).output_dir,
            "masked LM": toolkit.train(mlm).output_dir}


# Each kind's method, and a call of it on a handle with a list of inputs.
CALLS = {"classifier": ("predict", lambda handle, items: handle.predict(items), TEXTS),
         "causal LM": ("generate", lambda handle, items: handle.generate(items, max_new_tokens=6), PROMPTS),
         "reward model": ("score", lambda handle, items: handle.score(items, "Which is it?"), TEXTS),
         "masked LM": ("fill_mask", lambda handle, items: handle.fill_mask(items, top_k=3), MASKED)}


@pytest.mark.parametrize("kind", CALLS)
def test_a_handle_loads_once_and_answers_every_later_call_with_the_same_model(kind, runs, monkeypatch):
    handle = load(runs[kind])
    method, call, items = CALLS[kind]
    assert isinstance(handle, LoadedModel) and handle.kind == kind and handle.methods == (method,)
    model, tokenizer = handle.model, handle.tokenizer

    def refuse(*args, **kwargs):
        raise AssertionError(f"loaded again: {args[:2]}")

    # Every model, tokenizer and config the toolkit loads goes through this one function.
    monkeypatch.setattr("toolkit.loading.from_pretrained", refuse)
    answers = [call(handle, items), call(handle, items[:1]), call(handle, items)]
    assert handle.model is model and handle.tokenizer is tokenizer
    assert answers[0] == answers[2] and answers[1] == answers[0][:1]


def test_a_handles_answers_are_the_module_level_functions(runs):
    classifier, language_model = load(runs["classifier"]), load(runs["causal LM"])
    assert classifier.predict(TEXTS, batch_size=2) == toolkit.predict(runs["classifier"], TEXTS, batch_size=2)
    assert classifier.predict(TEXTS[:1])[0] == toolkit.predict(runs["classifier"], TEXTS[0])

    assert language_model.tokenizer.chat_template  # an sft run: prompts go through its template by default
    for settings in ({}, {"chat": False}, {"temperature": 0.9, "top_p": 0.8, "seed": 3}):
        assert language_model.generate(PROMPTS, 8, **settings) == toolkit.generate(runs["causal LM"], PROMPTS, 8,
                                                                                   **settings)
    assert language_model.generate(PROMPTS[:1], 8)[0] == toolkit.generate(runs["causal LM"], PROMPTS[0], 8)

    reward, prompts = load(runs["reward model"]), ["p one", "p two", "p three"]
    assert reward.score(TEXTS, prompts) == toolkit.score(runs["reward model"], TEXTS, prompts)
    assert reward.score(TEXTS, "one prompt") == toolkit.score(runs["reward model"], TEXTS, "one prompt")
    assert reward.score(TEXTS) == toolkit.score(runs["reward model"], TEXTS)
    assert reward.score(TEXTS[:1], "p")[0] == toolkit.score(runs["reward model"], TEXTS[0], "p")

    masked = load(runs["masked LM"])
    assert masked.fill_mask(MASKED, top_k=4) == toolkit.fill_mask(runs["masked LM"], MASKED, top_k=4)
    assert masked.fill_mask(MASKED[:1])[0] == toolkit.fill_mask(runs["masked LM"], MASKED[0])


@pytest.mark.parametrize("kind", CALLS)
def test_every_method_answers_a_list_one_entry_per_input_and_refuses_one_string(kind, runs):
    handle = load(runs[kind])
    method, call, items = CALLS[kind]
    for some in (items, items[:1], tuple(items[:2]), []):
        answers = call(handle, some)
        assert isinstance(answers, list) and len(answers) == len(some)
    with pytest.raises(toolkit.ToolkitError, match=rf"{method} takes a list .* For one: {method}\(\[\w+\]\)\[0\]"):
        call(handle, items[0])


WRONG = {"classifier": "generate", "causal LM": "fill_mask", "reward model": "predict", "masked LM": "score"}
WANTED = {"generate": "causal LM", "fill_mask": "masked LM", "predict": "classifier", "score": "reward model"}


@pytest.mark.parametrize("kind", WRONG)
def test_a_method_the_model_cannot_do_names_the_folder_and_the_method_that_fits(kind, runs):
    handle, wrong = load(runs[kind]), WRONG[kind]
    with pytest.raises(toolkit.ToolkitError) as refused:
        getattr(handle, wrong)(["a text"])
    message = str(refused.value)
    assert message.startswith(f"{runs[kind]}: holds a ") and f"(a {kind}" in message
    assert f"not a {WANTED[wrong]}: {wrong} needs" in message
    assert message.endswith(f"This model answers {CALLS[kind][0]}.") and "\n" not in message


def test_the_module_level_functions_refuse_the_wrong_kind_before_loading_it(runs, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("loaded a model only to refuse it")

    monkeypatch.setattr("toolkit.loading.from_pretrained", refuse)
    with pytest.raises(toolkit.ToolkitError, match=r"\(a classifier, 2 labels\), not a reward model: .* answers "
                                                   r"predict\."):
        toolkit.score(runs["classifier"], ["a reply"])
    with pytest.raises(toolkit.ToolkitError, match=r"\(a reward model: one output\), not a classifier: .* answers "
                                                   r"score\."):
        toolkit.predict(runs["reward model"], "hello")


def test_a_folder_without_a_model_the_toolkit_uses_is_refused(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing", ASSETS / "toy_sms.jsonl"):
        with pytest.raises(toolkit.ToolkitError, match=f"{folder}: not a saved model folder"):
            load(folder)
    other = Path(shutil.copytree(runs["classifier"], tmp_path / "seq2seq"))
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "architectures": ["T5ForConditionalGeneration"]}))
    with pytest.raises(toolkit.ToolkitError, match="holds a T5ForConditionalGeneration: the toolkit answers for a "
                                                   "classifier"):
        load(other)
    (other / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoConfig": "custom.Config"}}))
    with pytest.raises(toolkit.ToolkitError, match="auto_map.*remote code is off"):
        load(other)
