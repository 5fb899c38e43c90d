"""Each bad input gives one clear message naming the file and key, exit status 2, no traceback, no output."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from conftest import TINY_GPT2, classification_recipe, toy_rows, write_jsonl
from toolkit.cli import main
from toolkit.devices import accelerator


def run_cli(recipe: dict | str, tmp_path, capsys, *extra: str) -> tuple[int, str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe if isinstance(recipe, str) else yaml.safe_dump(recipe), encoding="utf-8")
    code = main(["check", str(path), *extra])
    err = capsys.readouterr().err
    return code, err


def recipe_with(tmp_path, **data) -> dict:
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    recipe["data"].update(data)
    return recipe


def rows_file(tmp_path, name, rows):
    return str(write_jsonl(tmp_path / name, rows))


CASES = {
    "unknown_training_key": (lambda t: {**recipe_with(t), "training": {"learnin_rate": 1e-4}},
                             ["training", "learnin_rate", "did you mean 'learning_rate'"]),
    "unknown_top_level_key": (lambda t: {**recipe_with(t), "trainig": {}}, ["trainig", "did you mean 'training'"]),
    "unknown_model_key": (lambda t: {**recipe_with(t), "model": {**TINY_GPT2, "nme_or_path": "x"}},
                          ["model", "nme_or_path", "did you mean 'name_or_path'"]),
    "wrong_type": (lambda t: {**recipe_with(t), "training": {"num_train_epochs": "three"}},
                   ["training.num_train_epochs", "expected a number", "'three'"]),
    "wrong_type_in_data": (lambda t: recipe_with(t, max_length="long"), ["data.max_length", "expected an integer"]),
    "missing_data_file": (lambda t: recipe_with(t, train="no/such/train.jsonl"),
                          ["data.train", "no/such/train.jsonl", "does not exist"]),
    "missing_text_column": (lambda t: recipe_with(t, text_column="body"),
                            ["no column 'body'", "data.text_column", "Columns there: text, label"]),
    "missing_label_column": (lambda t: recipe_with(t, label_column="category"),
                             ["no column 'category'", "data.label_column"]),
    "missing_label_value": (lambda t: recipe_with(t, train=rows_file(t, "gap.jsonl", toy_rows()[:50] + [
                                {"text": "hello there", "label": None}])),
                            ["split 'train' row 51", "no value in column 'label'"]),
    "empty_split": (lambda t: recipe_with(t, split={"validation": 0.0001, "test": 0.2}),
                    ["split 'validation' has no rows"]),
    "header_only_file": (lambda t: recipe_with(t, validation=_empty_csv(t)), ["data.validation", "val.csv",
                                                                             "has no rows"]),
    "empty_file": (lambda t: recipe_with(t, train=_empty_file(t)), ["empty.jsonl", "is empty"]),
    "num_labels_mismatch": (lambda t: recipe_with(t, num_labels=3),
                            ["data.num_labels is 3", "2 labels", "['ham', 'spam']"]),
    "label_not_in_label_set": (lambda t: recipe_with(t, labels=["ham", "eggs"]),
                               ["data.labels", "'spam'", "not in data.labels"]),
    "single_label": (lambda t: recipe_with(t, train=rows_file(t, "one.jsonl", [r for r in toy_rows() if
                                                                                r["label"] == "ham"])),
                     ["only ['ham']", "at least two labels"]),
    "split_fractions": (lambda t: recipe_with(t, split={"validation": 0.6, "test": 0.5}),
                        ["data.split", "leave rows for training"]),
    "unknown_task": (lambda t: {**recipe_with(t), "task": "clasification"},
                     ["unknown task 'clasification'", "did you mean 'classification'"]),
    "model_and_architecture": (lambda t: {**recipe_with(t), "model": {**TINY_GPT2, "name_or_path": "gpt2"}},
                               ["exactly one of 'name_or_path'", "'architecture'"]),
    "model_folder_missing": (lambda t: {**recipe_with(t), "model": {"name_or_path": "./no-model-here"}},
                             ["model.name_or_path", "./no-model-here", "does not exist"]),
    "model_folder_without_weights": (lambda t: {**recipe_with(t), "model": {"name_or_path": _empty_dir(t)}},
                                     ["model.name_or_path", "could not load the tokenizer"]),
    "bad_training_value": (lambda t: {**recipe_with(t), "training": {"eval_strategy": "sometimes"}},
                           ["training", "sometimes", "IntervalStrategy"]),
    "sft_data_of_unknown_shape": (lambda t: {**recipe_with(t), "task": "sft"},
                                  ["SFT data needs a 'messages' column", "'prompt' and 'completion'",
                                   "'instruction' and 'output'", "Columns here: text, label"]),
    "sft_chat_without_assistant_turn": (lambda t: {**recipe_with(t, train=rows_file(t, "chat.jsonl", [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"messages": [{"role": "user", "content": "and you?"}]}])), "task": "sft"},
        ["split 'train' row 2 has no assistant turn"]),
    "sft_unknown_role": (lambda t: {**recipe_with(t, train=rows_file(t, "chat.jsonl", [
        {"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "hello"}]}])),
        "task": "sft"}, ["row 1", "role 'human'"]),
    "sft_sharegpt_unknown_speaker": (lambda t: {**recipe_with(t, train=rows_file(t, "sharegpt.jsonl", [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "robot", "value": "beep"}]}])),
        "task": "sft"}, ["split 'train' row 2", "ShareGPT speaker 'robot'", "'from' may be", "human", "gpt"]),
    "dpo_sharegpt_unknown_speaker": (lambda t: {**recipe_with(t, train=rows_file(t, "ranking.jsonl", [
        {"conversations": [{"from": "robot", "value": "hi"}], "chosen": {"from": "gpt", "value": "hello"},
         "rejected": {"from": "gpt", "value": "go away"}}])), "task": "dpo"},
        ["split 'train' row 1", "ShareGPT speaker 'robot'", "'from' may be"]),
    "dpo_sharegpt_reply_not_from_the_assistant": (lambda t: {**recipe_with(t, train=rows_file(t, "ranking.jsonl", [
        {"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "hello"},
         "rejected": {"from": "human", "value": "go away"}}])), "task": "dpo"},
        ["split 'train' row 1", "'rejected'", "assistant's reply"]),
    "pretrain_text_column_missing": (lambda t: {**recipe_with(t, text_column="body"), "task": "pretrain"},
                                     ["no column 'body'", "data.text_column"]),
    "mlm_probability_wrong_type": (lambda t: {**recipe_with(t), "task": "mlm",
                                              "training": {"mlm_probability": "lots"}},
                                   ["training.mlm_probability", "expected a number"]),
    "preferences_without_chosen": (lambda t: {**recipe_with(t), "task": "reward"},
                                   ["preference data needs 'chosen' and 'rejected'", "Columns here: text, label"]),
    "kto_label_not_true_or_false": (lambda t: {**recipe_with(t, train=rows_file(t, "u.jsonl", [
        {"prompt": "hi", "completion": "hello", "label": True},
        {"prompt": "hi", "completion": "go away", "label": "bad"}])), "task": "kto"},
                                    ["split 'train' row 2: 'label' must be true (desirable) or false", "got 'bad'"]),
    "kto_batch_of_one": (lambda t: {**recipe_with(t, train=rows_file(t, "p.jsonl", [
        {"prompt": "hi", "chosen": "hello", "rejected": "go away"}] * 4)), "task": "kto",
        "training": {"per_device_train_batch_size": 1}}, ["per_device_train_batch_size must be at least 2 for KTO"]),
    "fp16_without_a_gpu": (lambda t: {**recipe_with(t), "training": {"fp16": True}},
                           ["training.fp16", "needs a GPU", "Remove fp16"]),
    "tf32_without_a_gpu": (lambda t: {**recipe_with(t), "training": {"tf32": True}},
                           ["training.tf32 needs an NVIDIA GPU", "Remove tf32"]),
    "flash_attention_without_a_gpu": (lambda t: {**recipe_with(t), "model": {**TINY_GPT2,
                                      "attn_implementation": "flash_attention_2"}},
                                      ["model.attn_implementation flash_attention_2 needs an NVIDIA GPU", "sdpa"]),
    "unknown_attention": (lambda t: {**recipe_with(t), "model": {**TINY_GPT2, "attn_implementation": "flash"}},
                          ["model.attn_implementation 'flash' is not one of", "sdpa"]),
    "float16_weights_without_a_gpu": (lambda t: {**recipe_with(t), "model": {**TINY_GPT2, "dtype": "float16"}},
                                      ["model.dtype float16 needs a GPU", "float32"]),
    "tracker_not_installed": (lambda t: {**recipe_with(t), "training": {"report_to": ["wandb"]}},
                              ["training.report_to", "'wandb' needs the 'wandb' package", "pip install wandb"]),
    "jsonl_with_one_bad_line": (lambda t: recipe_with(t, train=_raw_file(t, "bad.jsonl", "".join(
        ['{"text": "hello", "label": "ham"}\n'] * 5 + ['{"text": "oops", "label": \n'] + [
            '{"text": "win now", "label": "spam"}\n'] * 5))), ["bad.jsonl", "line 6", "not valid JSON"]),
    "csv_with_a_broken_row": (lambda t: recipe_with(t, train=_raw_file(t, "bad.csv", "text,label\n" + "hi,ham\n" * 5
                                                                       + "a,b,c,d\n" + "win,spam\n" * 5)),
                              ["bad.csv", "line 7", "fields"]),
    "file_not_utf8": (lambda t: recipe_with(t, train=_raw_file(t, "latin1.csv", "text,label\ncafé,ham\n",
                                                               encoding="latin-1")),
                      ["latin1.csv", "not UTF-8", "save it as UTF-8"]),
    "learning_rate_out_of_range": (lambda t: {**recipe_with(t), "training": {"learning_rate": -0.1}},
                                   ["training.learning_rate", "-0.1", "must be positive"]),
    "conflicting_precisions": (lambda t: {**recipe_with(t), "training": {"fp16": True, "bf16": True}},
                               ["training", "fp16", "bf16"]),
    "sft_padding_free_without_packing": (lambda t: {**recipe_with(t, train=rows_file(t, "i.jsonl", [
        {"instruction": "hi", "output": "hello"}] * 4)), "task": "sft", "training": {"padding_free": True}},
        ["training.padding_free without packing", "packing: true", "packing_strategy: bfd"]),
    "dpo_preferences_empty_rejected": (lambda t: {**recipe_with(t, train=rows_file(t, "p.jsonl", [
        {"prompt": "hi", "chosen": "hello", "rejected": "go away"},
        {"prompt": "hi", "chosen": "hello", "rejected": ""}])), "task": "dpo"},
        ["split 'train' row 2 has no value in column 'rejected'"]),
    "corpus_filter_unknown": (lambda t: {**recipe_with(t, clean={"quality": {"c4": {}}}), "task": "pretrain"},
                              ["data.clean.quality", "unknown filter 'c4'"]),
}


def _empty_csv(tmp_path) -> str:
    path = tmp_path / "val.csv"
    path.write_text("text,label\n", encoding="utf-8")
    return str(path)


def _empty_file(tmp_path) -> str:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    return str(path)


def _raw_file(tmp_path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def _empty_dir(tmp_path) -> str:
    (tmp_path / "blank-model").mkdir()
    return str(tmp_path / "blank-model")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_gives_one_clear_message(case, tmp_path, capsys):
    if case.endswith("without_a_gpu") and accelerator():
        pytest.skip("a device check for machines without a GPU")
    make, expected = CASES[case]
    code, err = run_cli(make(tmp_path), tmp_path, capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one message, nothing else
    assert str(tmp_path / "recipe.yaml") in err
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "run").exists()


def test_malformed_yaml_names_the_line(tmp_path, capsys):
    code, err = run_cli("task: classification\nmodel: {name_or_path: x\ndata:\n", tmp_path, capsys)
    assert code == 2 and "not valid YAML" in err and "line" in err


def test_missing_recipe_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "recipe file not found" in capsys.readouterr().err


def test_finished_run_is_not_overwritten(tmp_path, capsys):
    """train refuses a folder holding a finished run; check (read-only) says so, with what the flags would do."""
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    output = tmp_path / "run"
    output.mkdir()
    (output / ".toolkit").write_text("{}")  # the toolkit's mark: a folder without it is never trained over
    (output / "run.json").write_text("{}")
    (output / "model.safetensors").write_text("precious")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "already holds a finished run" in err and "overwrite: true" in err
    assert main(["check", str(path)]) == 0
    assert "train refuses it unless told --overwrite" in capsys.readouterr().out
    assert main(["check", str(path), "--overwrite"]) == 0
    assert "train moves its files aside" in capsys.readouterr().out
    assert (output / "model.safetensors").read_text() == "precious"


@pytest.mark.slow
def test_real_process_exits_2_without_traceback(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**recipe_with(tmp_path), "training": {"learnin_rate": 1}}))
    done = subprocess.run([sys.executable, "-m", "toolkit", "check", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "did you mean 'learning_rate'" in done.stderr and "Traceback" not in done.stderr
    debug = subprocess.run([sys.executable, "-m", "toolkit", "--debug", "check", str(path)], capture_output=True,
                           text=True)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_debug_shows_the_library_error_behind_the_message(tmp_path, capsys):
    """The one-line message wraps a library's error; --debug shows that error too (raise ... from error)."""
    recipe = classification_recipe(tmp_path, TINY_GPT2, eval_strategy="sometimes")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["check", str(path)]) == 2
    plain = capsys.readouterr().err
    assert plain.startswith("error: ") and plain.count("\n") == 1 and "Traceback" not in plain
    assert main(["--debug", "check", str(path)]) == 2
    debug = capsys.readouterr().err
    assert "The above exception was the direct cause" in debug and "ValueError" in debug


def test_a_missing_run_folder_names_the_shipped_recipe_that_writes_it(tmp_path):
    """In a checkout (recipes/ beside the runs), the message says which command makes the folder."""
    import shutil

    import toolkit
    from conftest import ROOT

    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    with pytest.raises(toolkit.ToolkitError, match="toolkit train recipes/mlm/bert-tiny-pydoc.yaml` writes it"):
        toolkit.fill_mask("runs/bert-tiny-pydoc", "A list is a [MASK] sequence.")
    with pytest.raises(toolkit.ToolkitError, match=r"reward/gpt2-sft-toy-preferences.yaml` writes it \(so does "
                                                   r"the pipeline recipes/pipelines/rlhf-demo.yaml\)"):
        toolkit.score("runs/gpt2-sft-toy-preferences", "The capital of Peru is Lima.")
    with pytest.raises(toolkit.ToolkitError, match="not a saved model folder") as refused:
        toolkit.predict("runs/no-such-run", "hello")
    assert "writes it" not in str(refused.value)


def test_generate_refuses_a_classifier_as_predict_refuses_a_language_model(tmp_path):
    import toolkit

    classifier = toolkit.train(classification_recipe(tmp_path, TINY_GPT2, max_steps=1)).output_dir
    with pytest.raises(toolkit.ToolkitError, match="not a causal LM"):
        toolkit.generate(classifier, "hello")
    recipe = {"task": "pretrain", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 300}},
              "data": {"train": str(tmp_path / "text.txt"), "split": {"validation": 0.0, "test": 0.0},
                       "max_length": 16},
              "training": {"output_dir": str(tmp_path / "lm"), "max_steps": 1}}
    (tmp_path / "text.txt").write_text("a small text about lists and tuples, repeated. " * 40)
    language_model = toolkit.train(recipe).output_dir
    with pytest.raises(toolkit.ToolkitError, match="not a classifier"):
        toolkit.predict(language_model, "hello")
