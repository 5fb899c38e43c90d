"""A real 2-process DDP run on CPU (gloo), launched the way users launch on GPUs: accelerate launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, TINY_GPT2, classification_recipe, tiny_recipe
from toolkit.devices import accelerator
from toolkit.owned_folder import claim

pytestmark = pytest.mark.slow  # every test here starts real processes


def test_two_process_run_trains_once_and_saves_one_model(tmp_path):
    recipe = classification_recipe(tmp_path, TINY_GPT2, num_train_epochs=1)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    # Through `toolkit launch`, which checks first. --multi_gpu is what starts 2 DDP processes on a machine
    # without GPUs; `--cpu --num_processes 2` would start one.
    command = [sys.executable, "-m", "toolkit", "launch", str(path), "--", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]

    output = tmp_path / "run"
    run = json.loads((output / "run.json").read_text())
    assert run["world_size"] == 2 and run["weights_identical_across_ranks"] is True
    assert sorted(p.name for p in output.glob("*.safetensors")) == ["model.safetensors"]
    assert not list(output.glob("checkpoint-*"))
    # Progress and results come from the main process only.
    assert done.stdout.count("outputs in ") == 1
    assert json.loads((output / "metrics.json").read_text())["test"]["accuracy"] > 0.8


TWO_PROCESS_RECIPES = ["pretrain/gpt2-tiny-pydoc.yaml", "mlm/bert-tiny-pydoc.yaml",
                       "reward/gpt2-tiny-toy-preferences.yaml",
                       "kto/gpt2-tiny-toy-preferences.yaml", "orpo/gpt2-tiny-toy-preferences.yaml",
                       "rlhf/gpt2-tiny-toy-rlhf.yaml"]


@pytest.mark.parametrize("name", TWO_PROCESS_RECIPES)
def test_every_task_runs_as_two_ddp_processes(name, tmp_path):
    """Classification, SFT and DPO are compared with one process in test_devices; the other tasks run their
    shipped recipe (made tiny) on two ranks: one output, written once, the same weights on both ranks."""
    recipe = tiny_recipe(ROOT / "recipes" / name, tmp_path)
    if recipe["task"] in ("reward", "kto", "orpo"):
        recipe["training"]["per_device_train_batch_size"] = 4
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(ROOT / "recipes/accelerate/multi-process-cpu.yaml"), "-m", "toolkit", "train", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    output = tmp_path / "run"
    run = json.loads((output / "run.json").read_text())
    assert run["world_size"] == 2 and run["weights_identical_across_ranks"] is True
    assert sorted(p.name for p in output.glob("*.safetensors")) == ["model.safetensors"]
    assert done.stdout.count("outputs in ") == 1 and list(output.glob("*.png"))


@pytest.mark.skipif(accelerator() is not None, reason="with GPUs the FSDP launch shards as asked")
def test_an_fsdp_launch_without_gpus_stops_before_anything_loads(tmp_path):
    """accelerate turns an FSDP launch on a CPU into plain DDP without a word; the toolkit refuses it instead."""
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2)))
    # The shipped config, with 2 processes rather than its 8 (fewer start-ups): its distributed_type asks for FSDP.
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(ROOT / "recipes/accelerate/fsdp2.yaml"), "--num_processes", "2",
               "-m", "toolkit", "train", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0 and "exitcode  : 2" in done.stderr, done.stderr[-3000:]  # torchrun's summary
    # Every process refuses, each with one line; torchrun stops the others once one has.
    assert 1 <= done.stderr.count("this accelerate launch asks for FSDP (ACCELERATE_USE_FSDP=true") <= 2
    assert "launch with --config_file recipes/accelerate/multi-process-cpu.yaml" in done.stderr
    assert done.stdout == "" and not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_launch_refuses_before_any_process_starts_and_launched_errors_print_once(tmp_path):
    """toolkit launch: one line, exit 2, no launcher traceback. A plain accelerate launch of a bad recipe: each
    process fails alike, and only one prints the message."""
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    claim(tmp_path / "run")  # a finished run's folder, as the toolkit marks it
    (tmp_path / "run" / "run.json").write_text("{}")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    refused = subprocess.run([sys.executable, "-m", "toolkit", "launch", str(path), "--", "--multi_gpu",
                              "--num_processes", "2"], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr.count("error: ") == 1, refused.stderr
    assert "already holds a finished run" in refused.stderr and "Traceback" not in refused.stderr
    assert "launching" not in refused.stdout

    path.write_text(yaml.safe_dump({**recipe, "training": {**recipe["training"], "learnin_rate": 1}}))
    launched = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                               "2", "-m", "toolkit", "train", str(path)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert launched.returncode != 0 and launched.stderr.count("error: ") == 1, launched.stderr[-3000:]
