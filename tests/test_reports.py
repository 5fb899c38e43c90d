"""What users look at: every task's run folder holds the recipe as run, metrics, plots, a model card and a
report; `toolkit eval` recomputes the metrics the run wrote; `toolkit report` and `toolkit compare` work
from the folder alone."""

from __future__ import annotations

import html
import json
import math
import re

import pytest

import toolkit
from conftest import ROOT, tiny_recipe
from toolkit.cli import main
from toolkit.metrics.per_example import read_examples
from toolkit.report import flatten

PNG = b"\x89PNG\r\n\x1a\n"
RECIPES = {"classification": "classification/minilm-toy-sms.yaml", "pretrain": "pretrain/gpt2-tiny-pydoc.yaml",
           "mlm": "mlm/bert-tiny-pydoc.yaml", "sft": "sft/gpt2-tiny-toy-instructions.yaml",
           "reward": "reward/gpt2-tiny-toy-preferences.yaml", "dpo": "dpo/gpt2-tiny-toy-preferences.yaml",
           "kto": "kto/gpt2-tiny-toy-preferences.yaml", "orpo": "orpo/gpt2-tiny-toy-preferences.yaml",
           "rlhf": "rlhf/llama-tiny-reversal-grpo.yaml"}


def held_out(metrics: dict) -> dict:
    return {split: values for split, values in metrics.items() if split in ("validation", "test")}


@pytest.mark.parametrize("task", RECIPES)
def test_run_folder_holds_what_a_person_reads_and_eval_reproduces_it(task, tmp_path, capsys):
    recipe = tiny_recipe(ROOT / "recipes" / RECIPES[task], tmp_path, steps=4)
    recipe["training"]["logging_steps"] = 1
    result = toolkit.train(recipe)
    folder = result.output_dir
    for name in ("recipe.yaml", "metrics.json", "log_history.json", "lineage.json", "run.json", "README.md",
                 "report.md", "report.html"):
        assert (folder / name).is_file(), name
    plots = sorted(folder.glob("*.png"))
    assert plots and all(p.read_bytes().startswith(PNG) and p.stat().st_size > 2000 for p in plots)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: transformers" in card and f"- {task}" in card
    assert "## Results" in card and "```yaml" in card  # metrics and the recipe as run
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(plots)
    assert_pages_agree(folder)
    assert any(p.name.startswith("losses_") or p.name.startswith("margins_") or p.name.startswith("rewards_")
               for p in plots), "no per-example histogram"
    before_after = "before → after training" in (folder / "report.md").read_text()
    assert before_after == bool(json.loads((folder / "metrics.json").read_text()).get("before"))  # legend only then

    written = json.loads((folder / "metrics.json").read_text())
    assert held_out(written), "the run evaluated no held-out split"
    for stage, metrics in (("after", held_out(written)), ("before", held_out(written.get("before", {})))):
        for split, values in metrics.items():
            rows = read_examples(folder, split, before=stage == "before")
            assert rows, (stage, split)
            assert_recounted(task, values, rows)

    # The saved model gives the same metrics and the same per-example values again.
    again = toolkit.evaluate(folder, per_example=True)
    bf16 = json.loads((folder / "training_args.json").read_text())["bf16"]
    tolerance = 1e-2 if bf16 else 1e-4  # bf16 autocast (on where the CPU has it) coarsens float rounding

    def close(a, b):
        return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))

    rows_again = {split: values.pop("per_example") for split, values in again.items()}
    expected, got = flatten(held_out(written)), flatten(again)
    assert expected.keys() == got.keys()
    assert all(close(expected[k], got[k]) for k in expected), (expected, got)
    for split, rows in rows_again.items():
        saved = read_examples(folder, split)
        assert len(rows) == len(saved)
        for old, new in zip(saved, rows, strict=True):
            assert all(close(a, b) for a, b in zip(numbers(old), numbers(new), strict=True)), (old, new)
    if task == "classification":  # the CLI prints what the API returns
        capsys.readouterr()
        assert main(["eval", str(folder)]) == 0
        assert flatten(json.loads(capsys.readouterr().out)).keys() == expected.keys()


def numbers(row: dict) -> list[float]:
    return list(flatten(row).values())


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def assert_recounted(task: str, metrics: dict, rows: list[dict]) -> None:
    """Each reported metric, recounted by hand from the saved per-example rows."""
    def same(a, b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

    if task == "classification":
        correct = sum(row["label"] == row["predicted"] for row in rows)
        assert metrics["correct"] == correct and same(metrics["accuracy"], correct / len(rows))
        assert sum(map(sum, metrics["confusion_matrix"])) == len(rows)
        assert same(metrics["loss"], mean(row["loss"] for row in rows))
    elif task in ("pretrain", "mlm", "sft"):
        tokens = sum(row["tokens"] for row in rows)
        assert metrics["tokens"] == tokens and metrics["examples"] == len(rows)
        assert same(metrics["loss"], sum(row["nll_sum"] for row in rows) / tokens)
        assert same(metrics["perplexity"], math.exp(metrics["loss"]))
    elif task in ("reward", "dpo", "orpo"):
        assert all(row["outcome"] == ("chosen" if row["chosen"] > row["rejected"] else
                                      "rejected" if row["chosen"] < row["rejected"] else "tie") for row in rows)
        correct = sum(row["outcome"] == "chosen" for row in rows)
        assert (metrics["correct"], metrics["pairs"]) == (correct, len(rows))
        assert metrics["ties"] == sum(row["outcome"] == "tie" for row in rows)
        assert same(metrics["accuracy"], correct / len(rows))
        assert same(metrics["margin"], mean(row["chosen"] - row["rejected"] for row in rows))
    elif task == "kto":
        desirable = [row["reward"] for row in rows if row["label"]]
        undesirable = [row["reward"] for row in rows if not row["label"]]
        assert same(metrics["margin"], mean(desirable) - mean(undesirable))
    elif task == "rlhf":
        assert metrics["prompts"] == len(rows)
        for name, value in metrics["rewards"].items():
            assert same(value, mean(row["rewards"][name] or 0.0 for row in rows))
    else:
        raise AssertionError(f"no recount for task {task}")


def section_titles(folder) -> tuple[list[str], list[str]]:
    """The section titles of report.md (## lines) and of report.html (<h2>), as a reader sees them: escapes undone
    (markdown_text backslash-escapes markdown's marks, then writes <, > and & as entities)."""
    markdown = re.findall(r"^## (.*)$", (folder / "report.md").read_text(encoding="utf-8"), re.M)
    page = re.findall(r"<h2>(.*?)</h2>", (folder / "report.html").read_text(encoding="utf-8"))
    return [re.sub(r"\\(.)", r"\1", html.unescape(title)) for title in markdown], [html.unescape(t) for t in page]


EVERY_RUN_SECTIONS = ["Results on held-out data", "Use it", "Data", "Lineage", "Run", "Recipe as run"]


def assert_pages_agree(folder) -> None:
    """report.md and report.html are written from one model of the report: the same sections in the same order,
    with the same facts in them (the HTML page once lacked Data and Run); the model card is that Markdown page
    under the Hub's metadata."""
    markdown_titles, html_titles = section_titles(folder)
    assert set(markdown_titles) == set(html_titles) and markdown_titles == html_titles, (markdown_titles, html_titles)
    assert set(EVERY_RUN_SECTIONS) <= set(markdown_titles), markdown_titles
    info = json.loads((folder / "run.json").read_text())
    train = json.loads((folder / "lineage.json").read_text())["data"]["train"]
    run_facts = [f"processes: {info['world_size']}", f"seconds: {info['seconds']}",
                 f"weights identical across ranks: {info['weights_identical_across_ranks']}"]
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert f"train: `{train}`" in markdown and all(fact in markdown for fact in run_facts), markdown
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"train: <code>{html.escape(train)}</code>" in page and all(html.escape(fact) in page for fact in run_facts)
    assert (folder / "README.md").read_text(encoding="utf-8").endswith(markdown)


def test_eval_takes_another_file_in_the_recipes_columns(tmp_path):
    result = toolkit.train(tiny_recipe(ROOT / "recipes" / RECIPES["classification"], tmp_path, steps=4))
    data = ROOT / "toolkit" / "assets" / "toy_sms.jsonl"
    metrics = toolkit.evaluate(result.output_dir, data=data)
    assert list(metrics) == ["data"] and 0 <= metrics["data"]["accuracy"] <= 1
    assert sum(map(sum, metrics["data"]["confusion_matrix"])) == len(data.read_text().splitlines())


def test_report_rebuilds_and_compare_puts_two_runs_side_by_side(tmp_path, capsys):
    first = toolkit.train(tiny_recipe(ROOT / "recipes" / RECIPES["classification"], tmp_path / "a", steps=2))
    recipe = tiny_recipe(ROOT / "recipes" / RECIPES["classification"], tmp_path / "b", steps=4)
    recipe["training"]["learning_rate"] = 1e-3
    second = toolkit.train(recipe)

    (first.output_dir / "report.html").unlink()
    assert main(["report", str(first.output_dir)]) == 0
    assert (first.output_dir / "report.html").is_file()

    page = tmp_path / "compare.html"
    assert main(["compare", str(first.output_dir), str(second.output_dir), "--output", str(page)]) == 0
    text = page.read_text()
    assert "training.learning_rate" in text and "training.max_steps" in text  # what differs between them
    assert "test.accuracy" in text and text.count("data:image/png;base64,") >= 4


def test_report_of_an_unfinished_folder_is_one_clear_message(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert main(["report", str(tmp_path / "half")]) == 2
    assert "not a finished run (no run.json)" in capsys.readouterr().err


@pytest.mark.slow
def test_report_to_tensorboard_and_trackio_log_the_run(tmp_path):
    import os
    import subprocess
    import sys

    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from conftest import TINY_GPT2, classification_recipe

    recipe = classification_recipe(tmp_path, TINY_GPT2, max_steps=6, logging_steps=2,
                                   report_to=["tensorboard", "trackio"])
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    # Trackio reads where it keeps its database when it is imported: a process of its own.
    done = subprocess.run([sys.executable, "-m", "toolkit", "train", str(tmp_path / "recipe.yaml")],
                          capture_output=True, text=True, env={**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio")})
    assert done.returncode == 0, done.stderr[-3000:]
    events = list((tmp_path / "run" / "runs").rglob("events.out.tfevents.*"))
    assert len(events) == 1
    scalars = EventAccumulator(str(events[0].parent)).Reload().Tags()["scalars"]
    assert "train/loss" in scalars and "eval/accuracy" in scalars
    assert list((tmp_path / "trackio").glob("*.db"))
