"""A launch whose process freezes ends within training.ddp_timeout: two DDP processes on CPU (gloo), one stopped
with SIGSTOP mid-training; the other gives up after the timeout and the launch ends, instead of waiting gloo's
default 30 minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from conftest import ROOT, TINY_GPT2, classification_recipe

pytestmark = pytest.mark.slow  # real processes, and a timeout to wait out

TIMEOUT = 20  # training.ddp_timeout, seconds
# After the waiting rank gives up, torchrun stops the frozen one: SIGTERM, which a stopped process cannot act on,
# then SIGKILL 30 s later.
TORCHRUN_GRACE = 30


def rank_process(launcher: psutil.Process, rank: str) -> psutil.Process | None:
    for child in launcher.children(recursive=True):
        try:
            if child.environ().get("RANK") == rank and "toolkit" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_a_frozen_rank_ends_the_run_within_the_ddp_timeout(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2, max_steps=5000, save_steps=5, logging_steps=5,
                                   eval_strategy="no", ddp_timeout=TIMEOUT)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(ROOT / "recipes/accelerate/multi-process-cpu.yaml"), "-m", "toolkit", "train", str(path)]
    launch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    frozen = None
    try:
        deadline = time.time() + 300
        while not (tmp_path / "run" / "checkpoint-10" / "trainer_state.json").exists():
            assert launch.poll() is None and time.time() < deadline, launch.communicate()[1][-3000:]
            time.sleep(0.05)
        frozen = rank_process(psutil.Process(launch.pid), "1")
        assert frozen is not None
        frozen.send_signal(signal.SIGSTOP)
        stopped = time.time()
        _, err = launch.communicate(timeout=TIMEOUT + TORCHRUN_GRACE + 90)
        waited = time.time() - stopped
    finally:
        if frozen is not None and frozen.is_running():
            frozen.kill()
        if launch.poll() is None:
            launch.kill()
    assert launch.returncode != 0 and not (tmp_path / "run" / "run.json").exists()
    assert waited < TIMEOUT + TORCHRUN_GRACE + 30, f"the launch ended {waited:.0f} s after one process froze"
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"{TIMEOUT} s" in errors[0] and "training.ddp_timeout" in errors[0], err[-3000:]
