"""data.mixture: several datasets as the train split, drawn as alignment-handbook's dataset_mixture draws them
(from each source `ds.shuffle(seed).select(range(int(len(ds) * weight)))`, joined, then shuffled with the seed)."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset, concatenate_datasets

import toolkit
from conftest import ROOT, TINY_BERT, TINY_GPT2, toy_rows, write_jsonl
from toolkit.data.splits import read_splits
from toolkit.recipe import load_recipe
from toolkit.tasks import get_task

ASSETS = ROOT / "toolkit" / "assets"


def asset_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (ASSETS / name).read_text(encoding="utf-8").splitlines()]


def two_sources(tmp_path, rows: list[dict], rename: dict[str, str]) -> tuple[str, str, list[dict], list[dict]]:
    """The rows cut in two files; the second spells its columns differently (renamed back by the mixture)."""
    first, second = rows[: len(rows) // 2], rows[len(rows) // 2:]
    spelled = [{rename.get(key, key): value for key, value in row.items()} for row in second]
    return (str(write_jsonl(tmp_path / "a.jsonl", first)), str(write_jsonl(tmp_path / "b.jsonl", spelled)),
            first, second)


def expected_train(first: list[dict], second: list[dict], weights: tuple[float, float], seed: int) -> list[dict]:
    """The handbook's draw written out with datasets' own calls; a weight above 1 adds whole copies first."""
    parts = []
    for rows, weight in zip((first, second), weights, strict=True):
        source = Dataset.from_list(rows)
        copies = int(weight) if weight > 1 else 0
        parts += [source] * copies + [source.shuffle(seed=seed).select(range(int(len(source) * (weight - copies))))]
    return concatenate_datasets(parts).shuffle(seed=seed).to_list()


CASES = {
    "classification": (lambda: [{"text": r["text"], "label": r["label"]} for r in toy_rows()[:120]],
                       {"text": "message"}, TINY_BERT),
    "sft": (lambda: asset_rows("toy_instructions.jsonl")[:40], {"instruction": "question"}, TINY_GPT2),
    "dpo": (lambda: asset_rows("toy_preferences.jsonl")[:40], {"chosen": "better"}, TINY_GPT2),
}


@pytest.mark.parametrize("task", list(CASES))
def test_a_weighted_two_source_mixture_takes_the_handbook_rows(tmp_path, task):
    make_rows, rename, model = CASES[task]
    a, b, first, second = two_sources(tmp_path, make_rows(), rename)
    weights, seed = (0.5, 1.5), 7
    columns = {new: old for old, new in rename.items()} | {key: key for key in first[0] if key not in rename}
    recipe = {"task": task, "model": dict(model),
              "data": {"mixture": {"seed": seed, "datasets": [{"id": a, "weight": weights[0]},
                                                              {"id": b, "weight": weights[1], "columns": columns}]},
                       "max_length": 48},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 1, "disable_tqdm": True}}
    loaded = load_recipe(recipe)

    train = read_splits(loaded)["train"].to_list()
    assert train == expected_train(first, second, weights, seed)
    assert read_splits(load_recipe(recipe, {"data.mixture.seed": 8}))["train"].to_list() != train

    facts = toolkit.check(recipe)
    taken = [row["taken"] for row in facts["mixture"]["datasets"]]
    assert taken == [len(first) // 2, len(second) + len(second) // 2]
    assert next(iter(facts["splits"]["train"].values())) == sum(taken)  # examples, or pairs
    assert get_task(task, "test").prepare(loaded).splits["train"].num_rows == sum(taken)


def test_the_mix_is_printed_and_kept_in_the_lineage_and_model_card(tmp_path, capsys):
    rows = [{"text": r["text"], "label": r["label"]} for r in toy_rows()[:200]]
    a, b, _, _ = two_sources(tmp_path, rows, {})
    recipe = {"task": "classification", "model": dict(TINY_BERT),
              "data": {"mixture": {"datasets": [{"id": a, "weight": 0.25}, {"id": b, "split": "train[:40]"}]},
                       "split": {"validation": 0.2, "test": 0.2}, "max_length": 32},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "disable_tqdm": True, "seed": 3}}
    toolkit.train(recipe)
    printed = capsys.readouterr().out
    assert f"train mixture (seed 3): 25 rows of {a} [train] (weight 0.25 of 100); 40 rows of {b} [train[:40]]" \
           in printed
    lineage = json.loads((tmp_path / "run" / "lineage.json").read_text())
    assert [row["taken"] for row in lineage["data"]["mixture"]["datasets"]] == [25, 40]
    card = (tmp_path / "run" / "README.md").read_text()
    assert "a mixture of 2 datasets, 65 rows, drawn with seed 3" in card and f"| `{b}` | `train[:40]` | 40 | 1 | 40 |" \
           in card
    page = (tmp_path / "run" / "report.html").read_text()
    assert "a mixture of 2 datasets, 65 rows, drawn with seed 3" in page and "<td><code>train[:40]</code></td>" in page
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    again = toolkit.evaluate(tmp_path / "run")  # the same seeded mixture, so the same held-out rows
    assert again["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert again["test"]["examples"] == metrics["test"]["examples"] == 13
    assert toolkit.evaluate(tmp_path / "run", data=a)["data"]["examples"] == 100  # another file, no mixture


@pytest.mark.parametrize("change, message", [
    ({"data.train": "x.jsonl"}, "data.mixture makes the train split, so data.train would be ignored"),
    ({"data.mixture.datasets": []}, "mixture.datasets: empty"),
    ({"data.mixture.datasets": [{"id": "A", "weight": 0}]}, "datasets[0].weight: 0 must be a number above 0"),
    ({"data.mixture.datasets": [{"path": "a.jsonl"}]}, "a source is a mapping with at least an id"),
    ({"data.mixture.datasets": [{"id": "A", "wieght": 1}]}, "unknown key 'wieght' (did you mean 'weight'?)"),
    ({"data.mixture.datasets": [{"id": "A", "weight": 1.5}], "data.split": {"validation": 0.1, "test": 0}},
     "copies of one row would sit in train and in validation"),
])
def test_a_bad_mixture_is_refused_before_any_file_is_read(tmp_path, change, message):
    recipe = {"task": "classification", "model": dict(TINY_BERT),
              "data": {"mixture": {"datasets": [{"id": "A"}]}}, "training": {"output_dir": str(tmp_path / "r")}}
    with pytest.raises(toolkit.ToolkitError, match="data.mixture|mixture") as caught:
        load_recipe(recipe, change)
    assert message in str(caught.value)


def test_sources_with_different_columns_are_named(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": "hi", "label": "ham"}] * 4)
    b = write_jsonl(tmp_path / "b.jsonl", [{"message": "win", "label": "spam"}] * 4)
    recipe = {"task": "classification", "model": dict(TINY_BERT),
              "data": {"mixture": {"datasets": [{"id": str(a)}, {"id": str(b)}]}},
              "training": {"output_dir": str(tmp_path / "r")}}
    with pytest.raises(toolkit.ToolkitError) as caught:
        read_splits(load_recipe(recipe))
    assert "datasets[1] has columns message, label" in str(caught.value) and "Give each source `columns`" \
        in str(caught.value)


def test_a_source_can_be_a_dataset_repository_folder_read_as_the_hub_reads_it(tmp_path):
    """A hub dataset's files, as `huggingface-cli download` leaves them: datasets.load_dataset(id, split=...) reads
    the folder as it reads the hub, train and test split files included."""
    repository = tmp_path / "repository" / "data"
    repository.mkdir(parents=True)
    rows = [{"text": r["text"], "label": r["label"]} for r in toy_rows()[:60]]
    write_jsonl(repository / "train-00000.jsonl", rows[:40])
    write_jsonl(repository / "test-00000.jsonl", rows[40:])
    a = write_jsonl(tmp_path / "a.jsonl", rows[:10])
    recipe = {"task": "classification", "model": dict(TINY_BERT),
              "data": {"mixture": {"datasets": [{"id": str(a)},
                                                {"id": str(repository.parent), "split": "test", "weight": 0.5}]}},
              "training": {"output_dir": str(tmp_path / "r"), "seed": 0}}
    train = read_splits(load_recipe(recipe))["train"].to_list()
    assert len(train) == 10 + 10 and all(row in rows[40:] for row in train if row not in rows[:10])
