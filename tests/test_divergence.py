"""A diverging run is a failure, like a NaN: a training loss that stays far above its start stops the run (the last
good checkpoint kept, no final model), as far as training.divergence_factor allows; a finished run whose held-out loss
ended many times its value before training says so in its metrics, its summary and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from transformers import TrainerControl, TrainerState, TrainingArguments

import toolkit
from conftest import ROOT, TINY_GPT2, classification_recipe
from toolkit.cli import main
from toolkit.guards import PATIENCE, StopOnBadLoss

FACTOR = 10  # the default of training.divergence_factor


def diverging(tmp_path: Path, **training) -> dict:
    """A tiny classifier whose learning rate warms up towards 10: it trains for a few checkpoints, then its loss
    climbs to tens of times where it started (measured: above 10x from about step 18)."""
    return classification_recipe(tmp_path, TINY_GPT2, max_steps=50, learning_rate=10.0, warmup_steps=200,
                                 lr_scheduler_type="linear", save_steps=2, logging_steps=2, eval_strategy="no",
                                 **training)


def cli_train(recipe: dict, tmp_path: Path, capsys) -> tuple[int, str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    code = main(["train", str(path)])
    return code, capsys.readouterr().err


def test_a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    code, err = cli_train(diverging(tmp_path), tmp_path, capsys)
    assert code == 2, err[-3000:]
    line = [line for line in err.splitlines() if line.startswith("error: ")][0]
    assert "training stopped at step" in line and "training.divergence_factor" in line, line
    assert "last good checkpoint" in line
    stopped_at = int(line.split("training stopped at step ")[1].split(":")[0])
    output = tmp_path / "run"
    assert not (output / "run.json").exists() and not (output / "model.safetensors").exists()
    checkpoint = Path(line.split("last good checkpoint is ")[1].split(";")[0])
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    losses = [row["loss"] for row in state["log_history"] if "loss" in row]
    assert state["log_history"][0]["step"] == 1  # the start the loss is compared with: the first step's
    assert all(loss <= FACTOR * losses[0] for loss in losses)  # saved while the loss was still near its start
    assert all(int(p.name.split("-")[1]) < stopped_at for p in output.glob("checkpoint-*"))


def test_the_recipe_sets_how_far_the_loss_may_rise(tmp_path, capsys):
    recipe = diverging(tmp_path, divergence_factor=1e9)
    code, err = cli_train(recipe, tmp_path, capsys)
    assert code == 0, err[-3000:]
    assert yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())["training"]["divergence_factor"] == 1e9

    typo = {**recipe, "training": {**recipe["training"], "divergence_facter": 3}}
    typo["training"].pop("divergence_factor")
    assert main(["check", str(write(tmp_path / "typo.yaml", typo))]) == 2
    assert "did you mean 'divergence_factor'" in capsys.readouterr().err
    below_one = {**recipe, "training": {**recipe["training"], "divergence_factor": 0.5}}
    assert main(["check", str(write(tmp_path / "low.yaml", below_one))]) == 2
    assert "training.divergence_factor is 0.5" in capsys.readouterr().err


def write(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


def logged(callback: StopOnBadLoss, losses: list[float]) -> tuple[int | None, list[bool]]:
    """Feed `losses` as the trainer logs them; (the step training stopped at or None, whether each step saved)."""
    args, state = TrainingArguments(output_dir="unused", report_to="none"), TrainerState()
    saves = []
    for step, loss in enumerate(losses, 1):
        state.global_step = step
        state.log_history.append({"loss": loss, "step": step})
        control = TrainerControl(should_save=True)
        callback.on_log(args, state, control, logs={"loss": loss})
        saves.append(control.should_save)
        if control.should_training_stop:
            return step, saves
    return None, saves


def test_a_spike_is_not_divergence_but_a_loss_that_stays_up_is():
    spikes = [1.0, 12.0, 1.0, 12.0, 12.0, 0.9, 12.0, 0.8]
    stopped, saves = logged(StopOnBadLoss(FACTOR), spikes)
    assert stopped is None
    assert saves == [loss <= FACTOR for loss in spikes]  # no checkpoint of a model with a suspect loss
    stopped, _ = logged(StopOnBadLoss(FACTOR), [1.0, 0.5, 12.0, 30.0, 11.0, 0.5])
    assert stopped == 2 + PATIENCE
    assert logged(StopOnBadLoss(None), [1.0, 1e9, 1e9, 1e9, 1e9])[0] is None  # divergence_factor: null
    # A model that already fits its data starts near 0: a few hundredths is noise, not divergence.
    assert logged(StopOnBadLoss(FACTOR), [0.001, 0.05, 0.08, 0.06, 0.09])[0] is None
    assert logged(StopOnBadLoss(FACTOR), [0.001, 2.0, 3.0, 5.0])[0] == 4


def test_a_finished_run_whose_held_out_loss_rose_many_times_says_so(tmp_path, capsys):
    recipe = {"task": "sft", "model": TINY_GPT2, "eval": {"generations": 0},
              "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 48, "limit": 64,
                       "split": {"validation": 0.25, "test": 0.0}},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 20, "learning_rate": 20.0,
                           "lr_scheduler_type": "constant", "divergence_factor": None, "eval_strategy": "no",
                           "disable_tqdm": True}}
    result = toolkit.train(recipe)
    rose = result.metrics["held_out_loss_rose"]["validation"]
    assert rose["times"] > FACTOR and rose["after"] == pytest.approx(result.metrics["validation"]["loss"])
    assert "held-out loss rose" in capsys.readouterr().out
    saved = json.loads((result.output_dir / "metrics.json").read_text())
    assert saved["held_out_loss_rose"] == result.metrics["held_out_loss_rose"]
    for name in ("report.md", "README.md"):
        assert "held-out loss rose" in (result.output_dir / name).read_text()
