"""EleutherAI's lm-eval on a run's model, offline: a task defined over a local file, every sample saved and the
metric recounted from them."""

from __future__ import annotations

import json

import pytest

import toolkit
from conftest import ROOT, TINY_GPT2, write_jsonl

TASK = """task: toolkit_toy_choice
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
"""


@pytest.mark.slow
def test_a_local_harness_task_scores_the_run_and_saves_each_sample(tmp_path):
    instructions = [json.loads(line) for line in
                    (ROOT / "toolkit/assets/toy_instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    run = toolkit.train({"task": "sft", "model": dict(TINY_GPT2),
                         "data": {"train": str(write_jsonl(tmp_path / "train.jsonl", instructions[:16])),
                                  "max_length": 64},
                         "eval": {"generations": 0},
                         "training": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "disable_tqdm": True}})
    questions = [{"question": row["instruction"], "choices": [row["output"], "I do not know."], "label": 0}
                 for row in instructions[:6]]
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "toy.yaml").write_text(TASK.format(data=write_jsonl(tmp_path / "questions.jsonl", questions)))

    results = toolkit.harness(run.output_dir, ["toolkit_toy_choice"], include=tasks)
    samples = [json.loads(line) for line in (run.output_dir / "harness" / "toolkit_toy_choice.jsonl").open()]
    assert len(samples) == 6
    assert results["toolkit_toy_choice"]["acc,none"] == pytest.approx(sum(s["acc"] for s in samples) / 6)


@pytest.mark.slow
def test_an_unknown_harness_task_is_one_clear_error(tmp_path):
    with pytest.raises(toolkit.ToolkitError, match="no lm-eval task 'no_such_task'"):
        toolkit.harness(tmp_path, ["no_such_task"], include=tmp_path)
