"""torch's threads on a CPU run are the cores other processes leave free when it starts (toolkit.threads): on a
busy machine fewer than torch's default, on an idle one torch's own choice; the recipe or OMP_NUM_THREADS choose
instead, and `toolkit check` says which and why."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

import toolkit
from conftest import TINY_BERT, classification_recipe
from toolkit.errors import ToolkitError
from toolkit.threads import choose, cores, others_busy


def test_the_rule():
    assert choose(None, None, 2, 0.2) == (None, "2 cores, none busy")  # idle: torch's own choice
    assert choose(None, None, 2, 1.3)[0] == 1
    assert choose(None, None, 2, 3.7)[0] == 1  # never fewer than one
    assert choose(None, None, 16, 4.0)[0] == 12
    assert choose(None, "3", 2, 1.3) == (3, "OMP_NUM_THREADS")
    assert choose(4, "3", 2, 1.3) == (4, "training.threads")


@pytest.fixture
def spinning():
    """Another process keeping one core busy."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    yield spinner
    spinner.kill()


def test_a_busy_core_is_seen(spinning):
    assert others_busy() >= 0.7


def test_check_says_how_many_threads_and_why(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    chosen = toolkit.check(classification_recipe(tmp_path, TINY_BERT, threads=1))["settings"]["threads"]
    assert chosen == "1 (training.threads)"
    with pytest.raises(ToolkitError, match="training.threads is 0; it must be at least 1"):
        toolkit.check(classification_recipe(tmp_path, TINY_BERT, threads=0))


@pytest.mark.skipif(cores() < 2, reason="needs a second core to keep busy")
def test_a_run_on_a_busy_machine_takes_the_free_cores(tmp_path, monkeypatch, spinning, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("toolkit.threads.TORCH_DEFAULT", cores())  # as torch starts without OMP_NUM_THREADS
    before = torch.get_num_threads()
    try:
        toolkit.train(classification_recipe(tmp_path, TINY_BERT, max_steps=1))
        said = capsys.readouterr().out
        assert f"threads: {torch.get_num_threads()} ({cores()} cores, " in said and "kept busy" in said
        assert torch.get_num_threads() < cores()
    finally:
        torch.set_num_threads(before)
