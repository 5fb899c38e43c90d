"""Long runs fail in the middle: a killed run resumes to the same result, a NaN stops with the last good
checkpoint, a finished run is never lost, and local inputs never reach for the network."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

import toolkit
from conftest import ROOT, TINY_GPT2, classification_recipe, toy_rows, write_jsonl
from toolkit.cli import main

STEPS, SAVE_EVERY = 240, 40


def resumable(task: str, tmp_path: Path, name: str) -> dict:
    model = {**TINY_GPT2, "config": {**TINY_GPT2["config"]}}
    training = {"output_dir": str(tmp_path / name), "max_steps": STEPS, "save_steps": SAVE_EVERY,
                "logging_steps": 10, "per_device_train_batch_size": 8, "learning_rate": 1e-3, "seed": 0,
                "eval_strategy": "no", "disable_tqdm": True}
    if task == "classification":
        recipe = classification_recipe(tmp_path, model, **training)
        recipe["data"] = {"train": str(write_jsonl(tmp_path / "sms.jsonl", toy_rows())), "max_length": 32}
    else:
        recipe = {"task": "sft", "model": model, "training": training,
                  "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 48}}
    return recipe


def train_command(path: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", "train", str(path), *flags]


def losses(output: Path) -> list[tuple[int, float]]:
    return [(row["step"], row["loss"]) for row in json.loads((output / "log_history.json").read_text())
            if "loss" in row]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "sft"])
def test_a_run_killed_mid_training_resumes_to_the_same_result(task, tmp_path):
    whole = resumable(task, tmp_path, "whole")
    (tmp_path / "whole.yaml").write_text(yaml.safe_dump(whole))
    assert subprocess.run(train_command(tmp_path / "whole.yaml"), capture_output=True).returncode == 0

    cut = resumable(task, tmp_path, "cut")
    (tmp_path / "cut.yaml").write_text(yaml.safe_dump(cut))
    process = subprocess.Popen(train_command(tmp_path / "cut.yaml"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    output = tmp_path / "cut"
    deadline = time.time() + 300
    while not (output / f"checkpoint-{2 * SAVE_EVERY}" / "trainer_state.json").exists():
        assert process.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (output / "run.json").exists()  # killed: not finished

    refused = subprocess.run(train_command(tmp_path / "cut.yaml"), capture_output=True, text=True)
    assert refused.returncode == 2 and "did not finish" in refused.stderr and "--resume" in refused.stderr

    # A mark in the checkpoint's state that only a run resumed from it carries to the end (an earlier version
    # restarted from step 0 under --resume, and reached the same numbers by determinism alone).
    state_file = output / f"checkpoint-{2 * SAVE_EVERY}" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["log_history"].append({"resumed_from": 2 * SAVE_EVERY, "step": 2 * SAVE_EVERY})
    state_file.write_text(json.dumps(state))
    resumed = subprocess.run(train_command(tmp_path / "cut.yaml", "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = json.loads((output / "log_history.json").read_text())
    assert {"resumed_from": 2 * SAVE_EVERY, "step": 2 * SAVE_EVERY} in history
    assert losses(output)[-1] == losses(tmp_path / "whole")[-1]
    assert [s for s, _ in losses(output)][-1] == STEPS
    a, b = (json.loads((folder / "metrics.json").read_text()) for folder in (output, tmp_path / "whole"))
    assert {k: v for k, v in a.items() if k != "train_loss"} == {k: v for k, v in b.items() if k != "train_loss"}
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)  # the mean over the whole run, resumed or not
    assert not list(output.glob("checkpoint-*"))  # kept for resuming only
    toolkit.evaluate(output)  # the recipe as run says resume: true; re-evaluating must neither resume nor refuse


def test_resume_with_nothing_to_resume_is_refused(tmp_path, capsys):
    recipe = resumable("classification", tmp_path, "fresh")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(tmp_path / "r.yaml"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    recipe = resumable("classification", tmp_path, "nan")
    recipe["training"].update(max_steps=30, save_steps=1, logging_steps=1, learning_rate=1e12, max_grad_norm=0.0,
                              lr_scheduler_type="constant")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(tmp_path / "r.yaml")]) == 2
    err = capsys.readouterr().err
    assert "training stopped at step" in err and "the loss became" in err and "last good checkpoint" in err
    output = tmp_path / "nan"
    assert not (output / "run.json").exists() and not (output / "model.safetensors").exists()
    checkpoint = Path(err.split("last good checkpoint is ")[1].split(";")[0])
    weights = load_file(str(checkpoint / "model.safetensors"))
    assert all(bool(t.isfinite().all()) for t in weights.values())


def test_overwriting_keeps_the_finished_run_until_the_new_one_finishes(tmp_path, capsys):
    recipe = classification_recipe(tmp_path, TINY_GPT2, max_steps=3)
    first = toolkit.train(recipe)
    stamp = (first.output_dir / "model.safetensors").read_bytes()
    broken = {**recipe, "overwrite": True,
              "training": {**recipe["training"], "learning_rate": 1e12, "max_grad_norm": 0.0, "logging_steps": 1,
                           "max_steps": 30, "lr_scheduler_type": "constant"}}
    with pytest.raises(toolkit.ToolkitError, match="the loss became"):
        toolkit.train(broken)
    previous = first.output_dir / ".previous"
    assert (previous / "model.safetensors").read_bytes() == stamp and (previous / "run.json").is_file()
    toolkit.train({**recipe, "overwrite": True})
    assert not previous.exists() and (first.output_dir / "run.json").is_file()


def test_local_inputs_never_reach_for_the_network(tmp_path, monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    result = toolkit.train(classification_recipe(tmp_path, TINY_GPT2, max_steps=2))
    toolkit.predict(result.output_dir, ["hello"])
    toolkit.evaluate(result.output_dir)
    assert attempts == []


def test_remote_code_is_off_unless_the_recipe_turns_it_on(tmp_path):
    recipe = toolkit.load_recipe(classification_recipe(tmp_path, {"name_or_path": str(tmp_path)}))
    assert recipe.model.trust_remote_code is False
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # the suite itself runs with the offline switches


def test_a_finished_run_is_re_evaluated_without_its_invocation_flags(tmp_path):
    """A run finished by `train --resume` (or --overwrite) keeps those flags in its recipe.yaml; evaluating it
    must neither resume nor look for checkpoints (which the finished run removed)."""
    from toolkit.run_folder import recipe_for_evaluation

    result = toolkit.train(classification_recipe(tmp_path, TINY_GPT2, max_steps=2))
    recipe_file = result.output_dir / "recipe.yaml"
    as_run = yaml.safe_load(recipe_file.read_text())
    as_run.update(resume=True, overwrite=True)
    as_run["training"]["resume_from_checkpoint"] = str(result.output_dir / "checkpoint-1")
    recipe_file.write_text(yaml.safe_dump(as_run))
    raw, _ = recipe_for_evaluation(result.output_dir, None, str(tmp_path / "scratch"))
    assert raw["resume"] is False and raw["overwrite"] is False and "resume_from_checkpoint" not in raw["training"]
    assert toolkit.evaluate(result.output_dir)["test"]["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
