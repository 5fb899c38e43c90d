"""`toolkit launch` reads the accelerate config and options, and refuses what this machine cannot run with one
line and exit status 2, before any process starts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, TINY_GPT2, classification_recipe
from toolkit import launch_check
from toolkit.cli import main
from toolkit.devices import accelerator
from toolkit.errors import ToolkitError

CONFIGS = ROOT / "recipes" / "accelerate"


@pytest.fixture
def machine(monkeypatch):
    """This machine as the check sees it: set GPUs, cores and whether DeepSpeed is installed; no default config."""
    facts = {"gpus": 0, "cores": 2, "deepspeed": False}
    monkeypatch.setattr(launch_check, "gpus", lambda: facts["gpus"])
    monkeypatch.setattr(launch_check, "cores", lambda: facts["cores"])
    monkeypatch.setattr(launch_check, "deepspeed_installed", lambda: facts["deepspeed"])
    monkeypatch.setattr(launch_check, "default_config", lambda: None)
    return facts


def config(name: str) -> list[str]:
    return ["--config_file", str(CONFIGS / name)]


def test_sharding_without_gpus_is_refused(machine):
    refusal = launch_check.launch_refusal(config("fsdp2.yaml"))
    assert "fsdp2.yaml" in refusal and "FSDP" in refusal and "no GPU" in refusal
    assert "--config_file recipes/accelerate/multi-process-cpu.yaml" in refusal
    assert "DeepSpeed" in launch_check.launch_refusal(config("deepspeed-zero3.yaml"))
    assert "--use_fsdp" in launch_check.launch_refusal(["--use_fsdp", "--num_processes", "2"])
    assert "--use_deepspeed" in launch_check.launch_refusal(["--use-deepspeed"])  # accelerate takes either spelling
    with pytest.raises(ToolkitError, match="FSDP"):
        launch_check.check_launch(config("fsdp2.yaml"))


def test_a_flag_chooses_the_launch_over_the_configs_distributed_type(machine):
    # accelerate reads distributed_type only when no flag chooses: --multi_gpu launches DDP
    assert launch_check.launch_refusal([*config("fsdp2.yaml"), "--multi_gpu", "--num_processes", "2"]) is None


def test_sharding_on_gpus_runs_unless_the_launch_puts_it_on_the_cpu(machine):
    machine.update(gpus=8, cores=64, deepspeed=True)
    assert launch_check.launch_refusal(config("fsdp2.yaml")) is None
    assert launch_check.launch_refusal(config("deepspeed-zero2.yaml")) is None
    assert "--cpu" in launch_check.launch_refusal([*config("fsdp2.yaml"), "--cpu"])


def test_deepspeed_not_installed_is_refused(machine):
    machine.update(gpus=8, cores=64)
    refusal = launch_check.launch_refusal(config("deepspeed-zero2.yaml"))
    assert "DeepSpeed" in refusal and "not installed" in refusal and "pip install deepspeed" in refusal
    assert launch_check.launch_refusal(config("fsdp2.yaml")) is None


def test_more_processes_than_cores_needs_force(machine):
    refusal = launch_check.launch_refusal(config("multi-gpu.yaml"))
    assert "8 processes" in refusal and "2 CPU cores" in refusal and "--force" in refusal
    assert "multi-gpu.yaml" in refusal
    assert launch_check.launch_refusal(config("multi-gpu.yaml"), force=True) is None
    assert launch_check.launch_refusal(config("multi-process-cpu.yaml")) is None
    assert launch_check.launch_refusal(config("cpu.yaml")) is None
    refusal = launch_check.launch_refusal([*config("multi-process-cpu.yaml"), "--num_processes=3"])
    assert "--num_processes 3" in refusal  # the option wins over the config's 2, as in accelerate
    machine.update(gpus=8, cores=8)  # 16 processes over 2 machines: 8 start here
    assert launch_check.launch_refusal(config("multi-node.yaml")) is None
    machine.update(cores=4)
    assert "8 processes" in launch_check.launch_refusal(config("multi-node.yaml"))


def test_a_config_file_that_cannot_be_read_is_refused(machine, tmp_path):
    with pytest.raises(ToolkitError, match="no such file"):
        launch_check.check_launch(["--config_file", str(tmp_path / "missing.yaml")])
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ToolkitError, match="mapping"):
        launch_check.check_launch(["--config_file", str(tmp_path / "list.yaml")])


def test_accelerates_default_config_counts_when_none_is_given(machine, monkeypatch, tmp_path):
    default = tmp_path / "default_config.yaml"
    default.write_text((CONFIGS / "fsdp2.yaml").read_text())
    monkeypatch.setattr(launch_check, "default_config", lambda: default)
    assert str(default) in launch_check.launch_refusal([])
    assert launch_check.launch_refusal(["--cpu"]) is None  # accelerate skips its default config with --cpu


def recipe_file(tmp_path) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2)))
    return str(path)


def test_launch_refuses_before_starting_anything_and_force_launches(machine, tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: started.append(command) or
                        subprocess.CompletedProcess(command, 0))
    assert main(["launch", recipe_file(tmp_path), "--", *config("fsdp2.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "FSDP" in err and not started
    assert main(["launch", recipe_file(tmp_path), "--", "--multi_gpu", "--num_processes", "4"]) == 2
    assert "--force" in capsys.readouterr().err and not started
    assert main(["launch", recipe_file(tmp_path), "--force", "--", "--multi_gpu", "--num_processes", "4"]) == 0
    [command] = started
    assert command[3:7] == ["--multi_gpu", "--num_processes", "4", "-m"] and "--force" not in command


@pytest.mark.skipif(accelerator() is not None, reason="with GPUs an FSDP launch shards as asked")
def test_an_fsdp_launch_on_a_cpu_machine_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "toolkit", "launch", recipe_file(tmp_path), "--",
                           "--config_file", "recipes/accelerate/fsdp2.yaml"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "FSDP" in done.stderr and "launching" not in done.stdout and not (tmp_path / "run").exists()
