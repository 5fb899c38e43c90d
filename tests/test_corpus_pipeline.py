"""Corpus cleaning as a datatrove pipeline: the in-process path, LocalPipelineExecutor with 1 and 2 workers and
the Slurm executor's pickled job keep the same documents; `toolkit prepare-corpus` writes them with a report,
and a rerun after a killed run skips the tasks that finished."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import dill
import pytest
import yaml

from conftest import ROOT, write_jsonl
from test_corpus import GERMAN, GOOD, REPEATED, SHORT
from toolkit.cli import main
from toolkit.data.corpus import clean_corpus
from toolkit.data.corpus_run import build_executors, write_shards
from toolkit.recipe import CleanSpec

CORPUS = ROOT / "toolkit" / "assets" / "pydoc_corpus.jsonl"
RECIPE_CLEAN = {"language": ["en"], "min_language_score": 0.5}  # recipes/pretrain/gpt2-tiny-pydoc.yaml's
# What the cleaning kept of the shipped corpus before it ran on datatrove's executors (an in-process loop):
# sha1 of the kept documents' positions, comma-joined, and each step's removals.
KEPT_DIGEST = "861ac02b85e2ccd6876984407ac86728c2017118"
REMOVED = {"empty": 0, "language": 41, "gopher_quality": 18, "gopher_repetition": 4, "fineweb_quality": 66,
           "exact_dedup": 10, "near_dedup": 5}


def shipped_texts() -> list[str]:
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def kept_digest(keep: list[bool]) -> str:
    return hashlib.sha1(",".join(str(i) for i, k in enumerate(keep) if k).encode()).hexdigest()


def test_shipped_corpus_keeps_what_the_in_process_loop_kept():
    keep, report = clean_corpus(shipped_texts(), CleanSpec(**RECIPE_CLEAN))
    assert {row["step"]: row["removed"] for row in report} == REMOVED
    assert sum(keep) == 180 and kept_digest(keep) == KEPT_DIGEST


@pytest.mark.parametrize("tasks,workers", [(3, 1), (3, 2)])
def test_executor_keeps_the_same_documents_as_the_in_process_path(tasks, workers):
    texts = shipped_texts() + [GOOD[0], GOOD[1].replace("oldest", "most ancient"), SHORT, GERMAN, REPEATED, " "]
    in_process = clean_corpus(texts, CleanSpec(**RECIPE_CLEAN))
    assert clean_corpus(texts, CleanSpec(**RECIPE_CLEAN, tasks=tasks, workers=workers)) == in_process


def corpus_recipe(tmp_path, train: list[str], validation: list[str] | None = None, **clean) -> str:
    data = {"train": str(write_jsonl(tmp_path / "train.jsonl", [{"body": text} for text in train])),
            "text_column": "body", "clean": {**RECIPE_CLEAN, **clean}}
    if validation:
        data["validation"] = str(write_jsonl(tmp_path / "validation.jsonl", [{"body": text} for text in validation]))
    recipe = {"task": "pretrain", "model": {"architecture": "gpt2", "tokenizer": {"vocab_size": 300}}, "data": data,
              "training": {"output_dir": str(tmp_path / "runs" / "lm")}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return str(path)


def read_kept(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepare_corpus_writes_each_split_and_a_report_and_a_rerun_redoes_nothing(tmp_path, capsys):
    train = shipped_texts()[:60]
    validation = [train[5], GERMAN, train[7] + " ", shipped_texts()[200]]  # two copies of training documents
    recipe = corpus_recipe(tmp_path, train, validation)
    assert main(["prepare-corpus", recipe, "--tasks", "2", "--workers", "1"]) == 0
    folder = tmp_path / "runs" / "lm-corpus"
    report = json.loads((folder / "report.json").read_text())
    assert yaml.safe_load(capsys.readouterr().out) == report
    keep, steps = clean_corpus(train + validation, CleanSpec(**RECIPE_CLEAN))
    assert report["steps"] == steps and report["documents_kept"] == sum(keep)
    kept_train, kept_validation = read_kept(folder / "train.jsonl"), read_kept(folder / "validation.jsonl")
    assert [row["body"] for row in kept_train] == [t for t, k in zip(train, keep, strict=False) if k]
    assert [row["source_row"] for row in kept_validation] == [3]  # German and the two copies are gone
    assert report["splits"] == {"train": {"documents_in": 60, "documents_kept": len(kept_train)},
                                "validation": {"documents_in": 4, "documents_kept": 1}}

    logs = sorted((folder / "logs").rglob("task_*.log"))
    stamps = [path.stat().st_mtime_ns for path in logs]
    assert main(["prepare-corpus", recipe, "--tasks", "2", "--workers", "2"]) == 0  # workers change no result
    assert yaml.safe_load(capsys.readouterr().out) == report
    assert [path.stat().st_mtime_ns for path in logs] == stamps  # no task ran again


def test_a_folder_prepared_otherwise_or_bad_options_are_one_clear_error(tmp_path, capsys):
    recipe = corpus_recipe(tmp_path, shipped_texts()[:20])
    assert main(["prepare-corpus", recipe, "--tasks", "2"]) == 0
    capsys.readouterr()
    assert main(["prepare-corpus", recipe, "--tasks", "3"]) == 2
    assert "prepared from other documents or with other cleaning settings" in capsys.readouterr().err
    assert main(["prepare-corpus", recipe, "--executor", "slurm", "--output", str(tmp_path / "s")]) == 2
    assert "slurm executor needs partition and time" in capsys.readouterr().err
    assert main(["prepare-corpus", recipe, "--partition", "cpu"]) == 2
    assert "--partition is a Slurm option" in capsys.readouterr().err
    assert main(["prepare-corpus", recipe, "data.text_column=txt", "--output", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column 'txt'" in err


def test_slurm_job_script_and_its_pickled_pipeline_clean_like_the_local_executor(tmp_path, monkeypatch):
    """Everything but sbatch: the job script datatrove would submit, and each array task running the pickled
    executor the way the script's launch_pickled_pipeline does."""
    texts = shipped_texts()[:80]
    spec = CleanSpec(**RECIPE_CLEAN, tasks=4, workers=2)
    folder = tmp_path / "corpus"
    write_shards([("train", row, text) for row, text in enumerate(texts)], folder, spec, "text")
    filtering, dedup = build_executors(spec, folder, "text", "test", "slurm",
                                       {"partition": "cpu", "time": "1:00:00", "mem_per_cpu_gb": 4})
    script = filtering.get_launch_file_contents(filtering.get_sbatch_args(max_array=4), "launch_pickled_pipeline x")
    for line in ("#SBATCH --partition=cpu", "#SBATCH --time=1:00:00", "#SBATCH --array=0-3%2",
                 "#SBATCH --mem-per-cpu=4G", f"source {sys.prefix}/bin/activate"):
        assert line in script
    assert dedup.depends is filtering and dedup.tasks == 1

    # A node's Slurm environment: the executor asks scontrol for the job's hosts (Slurm is not installed here).
    scontrol = tmp_path / "bin" / "scontrol"
    scontrol.parent.mkdir()
    scontrol.write_text("#!/bin/sh\necho localhost\n")
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{scontrol.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_NODELIST", "localhost")
    for executor in (filtering, dedup):  # what launch_job saves before sbatch, then each array task
        executor.logging_dir.open("ranks_to_run.json", "w").write(json.dumps(list(range(executor.tasks))))
        pickled = dill.dumps(executor)
        for task in range(executor.tasks):
            monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
            dill.loads(pickled).run()
    keep, _ = clean_corpus(texts, CleanSpec(**RECIPE_CLEAN))
    assert [row["source_row"] for row in read_kept(folder / "train.jsonl")] == [i for i, k in enumerate(keep) if k]


@pytest.mark.slow
def test_a_rerun_after_a_killed_run_skips_the_finished_tasks(tmp_path):
    texts = [f"{text}\n\nCopy {copy}." for copy in range(6) for text in shipped_texts()]  # long enough to kill
    recipe = corpus_recipe(tmp_path, texts)
    folder = tmp_path / "runs" / "lm-corpus"
    command = [sys.executable, "-m", "toolkit", "prepare-corpus", recipe, "--tasks", "8", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    completions = folder / "logs" / "filter" / "completions"
    while not (completions.is_dir() and len(list(completions.iterdir())) >= 2):
        assert killed.poll() is None, "the run ended before two tasks completed"
        time.sleep(0.02)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    finished = sorted(path.name for path in completions.iterdir())
    assert 2 <= len(finished) < 8
    stamps = {name: (folder / "logs" / "filter" / "logs" / f"task_{name}.log").stat().st_mtime_ns for name in finished}

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    logs = (folder / "logs" / "datatrove.log").read_text()  # datatrove's own lines, kept off the screen
    assert f"Skipping {len(finished)} already completed tasks" in logs
    for name, stamp in stamps.items():
        assert (folder / "logs" / "filter" / "logs" / f"task_{name}.log").stat().st_mtime_ns == stamp
    keep, steps = clean_corpus(texts, CleanSpec(**RECIPE_CLEAN))
    assert [row["source_row"] for row in read_kept(folder / "train.jsonl")] == [i for i, k in enumerate(keep) if k]
    assert json.loads((folder / "report.json").read_text())["steps"] == steps


def test_prepare_corpus_prints_its_summary_and_keeps_datatrove_logs_in_a_file(tmp_path):
    recipe = corpus_recipe(tmp_path, shipped_texts()[:30])
    done = subprocess.run([sys.executable, "-m", "toolkit", "prepare-corpus", recipe, "--tasks", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Launching pipeline" not in done.stderr and len(done.stderr.splitlines()) < 10, done.stderr
    assert "Launching pipeline" in (tmp_path / "runs" / "lm-corpus" / "logs" / "datatrove.log").read_text()
    assert yaml.safe_load(done.stdout)["documents_in"] == 30
