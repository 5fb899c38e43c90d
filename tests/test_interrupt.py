"""Ctrl-C during training: one line saying what was kept and the exact command that continues the run, exit status
130, the folder unlocked; and that command continues it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import TINY_GPT2, classification_recipe

pytestmark = pytest.mark.slow  # a real process, stopped mid-run, and its continuation


def test_ctrl_c_during_training_prints_the_command_that_continues_it(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2, max_steps=300, save_steps=5, logging_steps=5,
                                   eval_strategy="no")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    output = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "train", str(path), "training.seed=0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (output / "checkpoint-10" / "trainer_state.json").exists():
        assert process.poll() is None and time.time() < deadline, "the run ended before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)

    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert [text for text in err.splitlines() if text.startswith(("interrupted", "error"))] == [line]
    command = f"toolkit train {path} training.seed=0 --resume"
    assert line.startswith("interrupted: ") and line.endswith(f"continue with: {command}"), line
    assert not (output / "run.json").exists() and not (output / ".toolkit.lock.json").exists()  # unlocked

    continued = subprocess.run([sys.executable, "-m", *command.split()], capture_output=True, text=True, timeout=600)
    assert continued.returncode == 0, continued.stderr[-3000:]
    assert (output / "run.json").is_file()
