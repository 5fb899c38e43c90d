"""A newcomer's own small data with a copied recipe: `check` and the run say when there are too few optimizer steps
to learn from or too few held-out rows to measure, a classifier that predicts one class for everything is named,
and a run that writes answers says when they got worse, whatever its own metric did."""

from __future__ import annotations

import pytest

import toolkit
from conftest import TINY_BERT, classification_recipe, toy_rows, write_jsonl
from toolkit.metrics.answers import change_lines
from toolkit.tasks.classification import collapse_warning


def sixty_rows(tmp_path, **training) -> dict:
    recipe = classification_recipe(tmp_path, TINY_BERT, **training)
    recipe["data"]["train"] = str(write_jsonl(tmp_path / "mine.jsonl", toy_rows()[:60]))
    return recipe


def test_check_warns_of_few_steps_and_small_held_out_splits(tmp_path):
    warnings = toolkit.check(sixty_rows(tmp_path))["warnings"]  # 2 epochs of 42 rows in batches of 16: 6 steps
    assert any(w.startswith("6 optimizer steps is few to learn from") for w in warnings), warnings
    assert any("the validation split holds 6 rows" in w and "±0.40" in w for w in warnings), warnings
    assert any("the test split holds 12 rows" in w for w in warnings), warnings


def test_enough_steps_or_a_chosen_step_count_are_not_warned_of(tmp_path):
    chosen = toolkit.check(sixty_rows(tmp_path, max_steps=10)).get("warnings", [])
    assert not any("optimizer steps" in w for w in chosen)  # the recipe chose its steps
    many = toolkit.check(classification_recipe(tmp_path, TINY_BERT, num_train_epochs=3)).get("warnings", [])
    assert not any("optimizer steps" in w or "split holds" in w for w in many), many  # 105 steps, 80 / 160 rows


def test_a_classifier_that_predicts_one_class_is_named():
    collapsed = collapse_warning("test", [[0, 9], [0, 3]], ["ham", "spam"])
    assert collapsed and "every prediction is 'spam'" in collapsed[0]
    assert collapse_warning("test", [[8, 1], [0, 3]], ["ham", "spam"]) == []
    assert collapse_warning("test", [[9, 0], [0, 0]], ["ham", "spam"]) == []  # one class in the split: no verdict


def test_answers_that_got_worse_are_said_beside_the_task_metric():
    from toolkit.metrics.answers import worse

    summary = {"split": "test", "prompts": 46, "before": {"exact_match": 0.370, "f1": 0.777, "length": 9.0},
               "after": {"exact_match": 0.065, "f1": 0.587, "length": 30.0}, "worse": ["exact_match", "f1"]}
    lines = change_lines(summary)
    assert lines[0] == ("answers to 46 held-out prompts (test, greedy): exact match 0.370 -> 0.065, "
                        "token F1 0.777 -> 0.587")
    assert lines[1].startswith("warning: the held-out answers got worse (exact match, token F1 fell by more than")
    assert len(change_lines({**summary, "worse": []})) == 1  # a fall within chance is shown, not warned of

    def rows(before: list[float], after: list[float]) -> list[dict]:
        return [{"before": {"f1": b}, "after": {"f1": a}} for b, a in zip(before, after, strict=True)]

    assert worse(rows([0.8] * 20, [0.4] * 19 + [0.9])) == ["f1"]  # most prompts answered worse
    assert worse(rows([0.8] * 20, [0.8] * 19 + [0.3])) == []  # one prompt: chance
    assert worse(rows([0.5] * 20, [0.6] * 20)) == []
    assert change_lines(None) == [] and change_lines({"split": "test", "prompts": 0, "before": {}}) == []


def test_warnings_and_the_corpus_cleaning_are_one_line_each(capsys):

    from toolkit.cli import one_line_warning
    from toolkit.progress import announce

    line = one_line_warning(UserWarning("the reference model is frozen"), UserWarning, "/x/trl/dpo.py", 12)
    assert line == "warning: the reference model is frozen (UserWarning, dpo.py:12)\n"
    announce({"task": "pretrain", "model": "gpt2", "parameters": 1, "trainable_parameters": 1,
              "splits": {"train": {"examples": 3}}, "optimizer_steps": 1, "examples_per_step": 3,
              "corpus_cleaning": {"documents_in": 324, "documents_kept": 180,
                                  "steps": [{"step": "language", "removed": 40}, {"step": "exact_dedup", "removed": 0},
                                            {"step": "gopher_quality", "removed": 104}]}})
    assert "corpus cleaning: kept 180 of 324 documents (removed: language 40, gopher_quality 104)" in \
        capsys.readouterr().out


def test_init_writes_a_recipe_fitted_to_the_file_that_checks_clean(tmp_path):
    import yaml

    from toolkit.errors import ToolkitError

    data = write_jsonl(tmp_path / "mine.jsonl", toy_rows()[:60])
    path = toolkit.init("classification", data, tmp_path / "mine.yaml")
    recipe = yaml.safe_load(path.read_text())
    assert recipe["data"]["text_column"] == "text" and recipe["data"]["label_column"] == "label"
    assert "# labels found: " in path.read_text()
    facts = toolkit.check(str(path), {"training.output_dir": str(tmp_path / "run")})
    assert facts["optimizer_steps"] >= 50
    assert not any("optimizer steps" in w for w in facts.get("warnings", []))
    with pytest.raises(ToolkitError, match="already exists"):
        toolkit.init("classification", data, path)  # a file of the user's is never replaced
    many = write_jsonl(tmp_path / "corpus.jsonl", [{"body": row["text"]} for row in toy_rows()])
    written = yaml.safe_load(toolkit.init("pretrain", many, tmp_path / "lm.yaml").read_text())
    assert written["data"]["text_column"] == "body" and written["data"]["split"] == {"validation": 0.1, "test": 0.2}


@pytest.mark.slow
def test_a_starter_recipe_learns_from_sixty_rows(tmp_path):
    """The case that failed with a copied recipe (6 steps, one class predicted) learns with the starter's choices."""
    data = write_jsonl(tmp_path / "mine.jsonl", toy_rows()[:60])
    path = toolkit.init("classification", data, tmp_path / "mine.yaml")
    result = toolkit.train(str(path), {"training.output_dir": str(tmp_path / "run")})
    test = result.metrics["test"]
    predicted = [sum(column) for column in zip(*test["confusion_matrix"], strict=True)]
    assert test["accuracy"] > 0.6 and all(predicted), test  # beats chance, and predicts both classes
