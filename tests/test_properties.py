"""Property-based checks: whatever a recipe file or a data row holds, the toolkit either works or says what
is wrong (ToolkitError); it never crashes with anything else."""

from __future__ import annotations

import functools

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_GPT2, TOY_SMS
from toolkit.chat import alpaca_to_messages, ensure_chat_template
from toolkit.errors import ToolkitError
from toolkit.recipe import load_recipe
from toolkit.tokenizer import train_bpe

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                      st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
KEYS = ["task", "model", "data", "training", "peft", "eval", "rl", "overwrite"]
VALID = {"task": "classification", "model": dict(TINY_GPT2), "data": {"train": str(TOY_SMS)}}


def loads_or_explains(raw) -> None:
    try:
        load_recipe(raw)
    except ToolkitError as error:
        assert str(error).strip() and "\n" not in str(error).strip()


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=6))
def test_any_mapping_as_a_recipe(raw):
    loads_or_explains(raw)


@SETTINGS
@given(st.sampled_from(KEYS), values)
def test_a_valid_recipe_with_any_one_section_replaced(key, value):
    loads_or_explains({**VALID, key: value})


@SETTINGS
@given(st.sampled_from(["model", "data", "eval", "rl"]), st.text(max_size=12), values)
def test_a_valid_recipe_with_any_nested_key(section, key, value):
    raw = {**VALID, "rl": {}, "eval": {}}
    raw[section] = {**raw[section], key: value}
    loads_or_explains(raw)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_as_a_recipe_file(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("recipes") / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    loads_or_explains(str(path))


@SETTINGS
@given(values)
def test_any_yaml_document_as_a_recipe_file(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("recipes") / "recipe.yaml"
    path.write_text(yaml.safe_dump(value), encoding="utf-8")
    loads_or_explains(str(path))


@functools.lru_cache(maxsize=1)
def chat_tokenizer():
    tokenizer = train_bpe(["hello world", "the plural of goose is geese"] * 20, vocab_size=300)
    ensure_chat_template(tokenizer)
    return tokenizer


@SETTINGS
@given(st.text(), st.text() | st.none(), st.text() | st.none())
def test_any_unicode_instruction_formats_and_round_trips(instruction, input_text, output):
    messages = alpaca_to_messages(instruction, input_text, output)
    assert messages[0]["role"] == "user" and instruction.strip() in messages[0]["content"]
    tokenizer = chat_tokenizer()
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert messages[0]["content"] in rendered
    ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == rendered  # byte-level BPE: nothing is lost, whatever the script
