"""Each benchmark script runs end to end on a toy model and a few examples, and prints what it measures.
No timing is asserted: the numbers live in benchmarks/RESULTS.md."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

TINY = {"TOOLKIT_BENCHMARK_TINY": "1"}


def run(script: str, *args: str, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_REAL_DATA"}  # the synthetic fallback
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, cwd=cwd, env={**env, **TINY}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "sft", "dpo", "reward", "grpo"])
def test_speed_benchmark_prints_rates_and_ratios(task, tmp_path):
    out = run("speed.py", "--task", task, "--examples", "32", cwd=tmp_path)
    assert "synthetic data" in out and "toolkit ÷ this" in out and ("rollouts/s" if task == "grpo" else "MFU") in out
    plain = {"classification": "PyTorch loop, padded", "sft": "TRL SFTTrainer, library defaults",
             "dpo": "TRL DPOTrainer, library defaults", "reward": "TRL RewardTrainer, library defaults",
             "grpo": "TRL GRPOTrainer, library defaults"}[task]
    assert plain in out


@pytest.mark.slow
def test_scaling_benchmark_prints_a_table_and_plots(tmp_path):
    out = run("scaling.py", "--lengths", "32", "64", "--sizes", "8", "16", "--blocks", "8", cwd=tmp_path)
    assert "tokens/s" in out and "seconds per block" in out
    assert (tmp_path / "runs/benchmark-scaling/scaling.png").stat().st_size > 5000


@pytest.mark.slow
def test_setup_cache_benchmark_times_two_runs(tmp_path):
    out = run("setup_cache.py", "training.max_steps=2", "data.limit=32", cwd=tmp_path)
    assert "first run (empty cache)" in out and "second run (cached)" in out and "set-up / training" in out


@pytest.mark.slow
def test_streaming_memory_benchmark_compares_peak_memory(tmp_path):
    out = run("streaming_memory.py", "--documents", "20", "--times", "2", cwd=tmp_path)
    assert "streamed: peak RSS 2x ÷ 1x" in out and "read whole: peak RSS 2x ÷ 1x" in out


@pytest.mark.slow
def test_corpus_cleaning_benchmark_prints_rates_for_one_and_two_workers(tmp_path):
    out = run("corpus_cleaning.py", "--tasks", "2", cwd=tmp_path)
    assert "in process" in out and "2 tasks, 1 worker" in out and "2 tasks, 2 workers" in out
    assert out.count("documents/s") == 3
