"""Data and recipes read as the user meant them, or refused with one line that says why and what to write instead:
folders read by the hub's rules, labels every split agrees on, no key silently dropped, limits that limit."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import TINY_GPT2, classification_recipe, toy_rows, write_jsonl
from toolkit.cli import main


def check(recipe: dict | str, tmp_path, capsys, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe if isinstance(recipe, str) else yaml.safe_dump(recipe), encoding="utf-8")
    code = main(["check", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(recipe: dict | str, tmp_path, capsys, *fragments: str, extra: tuple = ()) -> str:
    """The recipe is refused with one line holding every fragment, before anything is written."""
    code, out, err = check(recipe, tmp_path, capsys, *extra)
    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1 and not out, out + err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not (tmp_path / "run").exists()
    return err


def recipe_with(tmp_path, **data) -> dict:
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    recipe["data"].update(data)
    return recipe


def raw_file(path, text: str, encoding: str = "utf-8") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return str(path)


def csv_rows(rows: list[dict]) -> str:
    return "text,label\n" + "".join(f"{row['text'].replace(',', ' ').replace(chr(10), ' ')},{row['label']}\n"
                                    for row in rows)


# 8. A folder as a split: read by the hub's rules (split names from file names), or refused with the reason.

def test_folder_of_mixed_formats_is_refused_naming_the_files(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", toy_rows()[:60])
    raw_file(folder / "b.csv", csv_rows(toy_rows()[60:120]))
    refused(recipe_with(tmp_path, train=str(folder)), tmp_path, capsys,
            "data.train", "a.jsonl", "b.csv", "one format")


def test_folder_of_several_splits_given_as_train_is_refused_with_the_lines_to_write(tmp_path, capsys):
    folder = tmp_path / "both"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", toy_rows()[:100])
    write_jsonl(folder / "test.jsonl", toy_rows()[100:140])
    refused(recipe_with(tmp_path, train=str(folder)), tmp_path, capsys,
            "data.train", "splits train (train.jsonl) and test (test.jsonl)",
            f"data.train: {folder / 'train.jsonl'}", f"data.test: {folder / 'test.jsonl'}")


def test_folder_of_one_split_is_read_whole_and_check_says_how(tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", toy_rows()[:60])
    write_jsonl(folder / "b.jsonl", toy_rows()[60:120])
    code, out, err = check(recipe_with(tmp_path, train=str(folder), split={"validation": 0.0, "test": 0.0}),
                           tmp_path, capsys)
    assert code == 0, err
    facts = yaml.safe_load(out)["would run"]
    assert facts["splits"]["train"]["examples"] == 120
    reading = facts["folders"]["data.train"]
    assert "as the hub reads a folder" in reading and "train: a.jsonl, b.jsonl" in reading, reading


def test_folder_with_files_named_for_another_split_is_refused(tmp_path, capsys):
    folder = tmp_path / "held"
    folder.mkdir()
    write_jsonl(folder / "test.jsonl", toy_rows()[:60])
    refused(recipe_with(tmp_path, validation=str(folder)), tmp_path, capsys,
            "data.validation", "split test (test.jsonl)")


def test_folder_of_several_splits_as_data_name_reads_each_split_by_its_name(tmp_path, capsys):
    """The fix the refusal offers: the whole folder as data.name, every split read from its own files."""
    folder = tmp_path / "both"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", toy_rows()[:100])
    write_jsonl(folder / "test.jsonl", toy_rows()[100:140])
    recipe = recipe_with(tmp_path, name=str(folder), split={"validation": 0.1, "test": 0.0})
    del recipe["data"]["train"]
    code, out, err = check(recipe, tmp_path, capsys)
    assert code == 0, err
    splits = yaml.safe_load(out)["would run"]["splits"]
    assert {name: split["examples"] for name, split in splits.items()} == {"train": 90, "validation": 10, "test": 40}


# A JSONL file read line by line when datasets cannot: the file, the line, what is wrong with it.

def test_latin1_jsonl_names_file_and_line(tmp_path, capsys):
    text = "".join(json.dumps(row) + "\n" for row in toy_rows()[:5]) + \
        '{"text": "café au lait", "label": "ham"}\n'
    path = raw_file(tmp_path / "latin1.jsonl", text, encoding="latin-1")
    refused(recipe_with(tmp_path, train=path), tmp_path, capsys, "latin1.jsonl", "line 6", "not UTF-8",
            "save it as UTF-8")


@pytest.mark.parametrize("line, fragments", [
    ('["hello", "ham"]', ["line 6", "not a JSON object", "a list"]),
    ('{"text": "hello", "label": "ham", "text": "again"}', ["line 6", "key 'text' twice"]),
])
def test_jsonl_line_of_valid_json_that_is_no_row_names_file_and_line(line, fragments, tmp_path, capfd):
    text = "".join(json.dumps(row) + "\n" for row in toy_rows()[:5]) + line + "\n" + \
        "".join(json.dumps(row) + "\n" for row in toy_rows()[5:10])
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_with(tmp_path, train=raw_file(tmp_path / "rows.jsonl", text))))
    assert main(["check", str(path)]) == 2
    captured = capfd.readouterr()
    # datasets' own "Failed to read" log line is not printed before ours
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    for fragment in ["rows.jsonl", *fragments]:
        assert fragment in captured.err, captured.err


# 10. A key given twice in one YAML mapping.

def test_duplicate_yaml_key_names_both_lines(tmp_path, capsys):
    recipe = recipe_with(tmp_path)
    text = yaml.safe_dump(recipe, sort_keys=False) + "training:\n  learning_rate: 0.001\n"
    first, second = [number for number, line in enumerate(text.splitlines(), 1) if line.startswith("training:")]
    refused(text, tmp_path, capsys, f"key 'training' is given twice, on lines {first} and {second}", "Keep one")


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    """`<<: *base` then a key of its own is how YAML overrides a merged block, not a key given twice."""
    from toolkit.recipe import read_yaml

    path = tmp_path / "stages.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nstage: {<<: *base, b: 3}\n")
    assert read_yaml(path)["stage"] == {"a": 1, "b": 3}


def test_recipe_path_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text("task: classification\n")
    code = main(["check", str(tmp_path / "recipes")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "a folder, not a recipe file" in err and "a.yaml" in err and "not found" not in err


# 11. model.config keys the architecture's config class does not have.

@pytest.mark.parametrize("key, fragments", [
    ("n_embed", ["model.config", "'n_embed'", "did you mean 'n_embd'", "GPT2Config"]),
    ("dropout", ["model.config", "'dropout'", "GPT2Config"]),
    ("num_labels", ["model.config.num_labels", "data.labels"]),
])
def test_model_config_key_the_architecture_lacks_is_refused(key, fragments, tmp_path, capsys):
    recipe = recipe_with(tmp_path)
    recipe["model"] = {**TINY_GPT2, "config": {**TINY_GPT2["config"], key: 3}}
    refused(recipe, tmp_path, capsys, *fragments)


def test_model_config_accepts_the_generic_and_mapped_names(tmp_path, capsys):
    """Keys every config has (tie_word_embeddings) and the class's aliases (hidden_size for GPT-2's n_embd)."""
    recipe = recipe_with(tmp_path, limit=40)
    config = {key: value for key, value in TINY_GPT2["config"].items() if key != "n_embd"}
    recipe["model"] = {**TINY_GPT2, "config": {**config, "hidden_size": 64, "tie_word_embeddings": True}}
    code, out, err = check(recipe, tmp_path, capsys)
    assert code == 0, err


# 12. Limits and lengths that mean what they say.

@pytest.mark.parametrize("data, fragments", [
    ({"limit": 0}, ["data.limit", "at least 1", "drop data.limit"]),
    ({"limit": -1}, ["data.limit", "at least 1"]),
    ({"max_length": 0}, ["data.max_length", "at least 1"]),
    ({"split": {"validation": float("nan"), "test": 0.2}}, ["data.split.validation", "nan", "finite"]),
])
def test_limits_lengths_and_fractions_out_of_range_are_refused(data, fragments, tmp_path, capsys):
    refused(recipe_with(tmp_path, **data), tmp_path, capsys, *fragments)


# 9. Labels: every held-out label is one train has, and one column holds one kind of value.

def test_label_only_in_a_held_out_split_is_refused(tmp_path, capsys):
    test_rows = toy_rows()[:20] + [{"text": "free eggs today", "label": "eggs"}]
    refused(recipe_with(tmp_path, test=str(write_jsonl(tmp_path / "test.jsonl", test_rows))), tmp_path, capsys,
            "'eggs'", "split 'test'", "never in train")


def test_a_label_spelt_close_to_a_common_one_on_a_few_rows_is_named_as_a_likely_typo(tmp_path, capsys):
    rows = toy_rows()
    for index in (5, 50, 500):  # three, so that data.split leaves some in train
        rows[index] = {**rows[index], "label": "spma"}
    recipe = recipe_with(tmp_path, train=str(write_jsonl(tmp_path / "typo.jsonl", rows)))
    code, out, err = check(recipe, tmp_path, capsys)
    assert code == 0, err
    flat = " ".join(out.split()).replace("''", "'")  # as one line, YAML's quoting undone
    assert "label 'spma' has" in flat and "looks like a typo of 'spam'" in flat and "data.labels" in flat, out
    recipe["data"]["train"] = str(write_jsonl(tmp_path / "clean.jsonl", toy_rows()))
    assert "typo" not in check(recipe, tmp_path, capsys)[1]


def test_labels_of_mixed_types_are_refused(tmp_path, capsys):
    rows = [{"text": row["text"], "label": 1 if row["label"] == "spam" else 0} for row in toy_rows()[:100]]
    test_rows = [{"text": "win a prize", "label": "1"}, {"text": "see you later", "label": "spam"}]
    refused(recipe_with(tmp_path, train=str(write_jsonl(tmp_path / "train.jsonl", rows)),
                        test=str(write_jsonl(tmp_path / "test.jsonl", test_rows))), tmp_path, capsys,
            "column 'label'", "numbers", "strings", "'1'")


def test_labels_yaml_read_as_booleans_say_to_quote_them(tmp_path, capsys):
    rows = [{"text": row["text"], "label": "yes" if row["label"] == "spam" else "no"} for row in toy_rows()[:100]]
    recipe = recipe_with(tmp_path, train=str(write_jsonl(tmp_path / "yn.jsonl", rows)))
    text = yaml.safe_dump(recipe).replace("data:\n", "data:\n  labels: [no, yes]\n")
    refused(text, tmp_path, capsys, "data.labels", "YAML", "quote", "['no', 'yes']")


# YAML's booleans where a word was meant, and a key in the block that does not have it.

def test_training_value_yaml_read_as_a_boolean_is_the_word_written(tmp_path, capsys):
    code, out, err = check(recipe_with(tmp_path), tmp_path, capsys, "training.save_strategy=no",
                           "training.eval_strategy=no")
    assert code == 0 and "error" not in err, err
    refused(recipe_with(tmp_path), tmp_path, capsys, "training: off is not a valid SaveStrategy", "'no'",
            extra=("training.save_strategy=off",))


def test_training_max_length_on_classification_points_to_data(tmp_path, capsys):
    recipe = {**recipe_with(tmp_path), "training": {"max_length": 64}}
    refused(recipe, tmp_path, capsys, "training.max_length", "data.max_length")


# pkg: paths name a folder inside an installed package, and stay inside it.

def test_pkg_path_naming_a_module_not_a_package(tmp_path, capsys):
    err = refused(recipe_with(tmp_path, train="pkg:os/x.jsonl"), tmp_path, capsys, "data.train", "'os'",
                  "not a package")
    assert "pip install" not in err


def test_pkg_path_leaving_its_package_is_refused(tmp_path, capsys):
    refused(recipe_with(tmp_path, train="pkg:toolkit/../.."), tmp_path, capsys, "data.train", "outside",
            "'toolkit'")


# predict --file reads a text file: bytes that are not UTF-8 are named by line.

def test_predict_file_not_utf8_names_file_and_line(tmp_path, capsys):
    path = raw_file(tmp_path / "texts.txt", "hello\nsee you at the café\n", encoding="latin-1")
    code = main(["predict", str(tmp_path / "no-model"), "--file", path])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "texts.txt" in err and "line 2" in err and "UTF-8" in err
