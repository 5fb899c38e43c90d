"""A resumed run reports on the whole run, not on the part after the resume: its mean training loss (metrics.json's
train_loss, the report's "mean over the run") counts the steps before the checkpoint too."""

from __future__ import annotations

import json

import pytest

import toolkit
from conftest import TINY_GPT2, classification_recipe


def test_a_resumed_run_reports_the_mean_loss_over_the_whole_run(tmp_path):
    settings = {"max_steps": 20, "save_steps": 5, "save_total_limit": 2, "save_strategy": "steps", "logging_steps": 5,
                "lr_scheduler_type": "constant", "eval_strategy": "no"}
    whole = toolkit.train(classification_recipe(tmp_path / "whole", TINY_GPT2, **settings))

    # A run stopped after checkpoint-10 (its first 10 steps, as the whole run took them; then run.json removed),
    # resumed to step 20: its new checkpoints push the one it resumed from out (save_total_limit: 2).
    cut = classification_recipe(tmp_path / "cut", TINY_GPT2, **settings)
    output = toolkit.train({**cut, "training": {**cut["training"], "max_steps": 10}}).output_dir
    (output / "run.json").unlink()
    resumed = toolkit.train({**cut, "resume": True})
    assert not (output / "checkpoint-10").exists()

    losses = [row["loss"] for row in json.loads((output / "log_history.json").read_text()) if "loss" in row]
    assert losses == pytest.approx([row["loss"] for row in
                                    json.loads((whole.output_dir / "log_history.json").read_text()) if "loss" in row])
    assert resumed.metrics["train_loss"] == pytest.approx(whole.metrics["train_loss"], rel=1e-4)
    assert json.loads((output / "metrics.json").read_text())["train_loss"] == resumed.metrics["train_loss"]
    mean = f"Training loss (mean over the run): {whole.metrics['train_loss']:.4g}"
    assert mean in (output / "report.md").read_text()
