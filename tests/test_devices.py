"""The same recipe on one process and on two DDP processes (gloo, CPU): one output, identical weights on
every rank, and the same loss curve for the same global batch. Every accelerate config parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TINY_GPT2, classification_recipe, toy_rows, write_jsonl

CONFIGS = sorted((ROOT / "recipes" / "accelerate").glob("*.yaml"))
NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}  # dropout draws differ per rank


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_accelerate_config_parses_and_opens_with_its_command(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.num_processes >= 1 and config.distributed_type
    assert "accelerate launch --config_file recipes/accelerate/" in path.read_text().split("\ncompute_environment")[0]


def launch(config: str | None, recipe: dict, tmp_path: Path) -> dict:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    launcher = [sys.executable, "-m", "accelerate.commands.launch"]
    launcher += ["--config_file", str(ROOT / "recipes" / "accelerate" / config)] if config else []
    done = subprocess.run([*launcher, "-m", "toolkit", "train", str(path)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    output = Path(recipe["training"]["output_dir"])
    return {"run": json.loads((output / "run.json").read_text()), "stdout": done.stdout, "output": output}


def losses(output: Path) -> list[float]:
    return [row["loss"] for row in json.loads((output / "log_history.json").read_text()) if "loss" in row]


def equivalence_recipe(task: str, tmp_path: Path, name: str, per_device: int, accumulation: int = 1) -> dict:
    model = {**TINY_GPT2, "config": {**TINY_GPT2["config"], **NO_DROPOUT}}
    training = {"output_dir": str(tmp_path / name), "max_steps": 6, "per_device_train_batch_size": per_device,
                "gradient_accumulation_steps": accumulation, "learning_rate": 1e-3, "logging_steps": 1,
                "train_sampling_strategy": "random", "eval_strategy": "no", "disable_tqdm": True, "seed": 0,
                "bf16": False}  # the comparison is of DDP's arithmetic, in fp32
    streamed = task.endswith("-streamed")  # train read as a stream, in file order: each rank takes its share
    task = task.removesuffix("-streamed")
    if streamed:
        training["train_sampling_strategy"] = "sequential"
    if task == "pretrain":
        recipe = {"task": "pretrain", "model": model, "training": training,
                  "data": {"train": str(ROOT / "toolkit/assets/pydoc_corpus.jsonl"), "max_length": 32}}
    elif task == "classification":
        recipe = classification_recipe(tmp_path, model, **training)
        recipe["data"] = {"train": str(write_jsonl(tmp_path / "cls.jsonl", toy_rows()[:200])), "max_length": 32}
    elif task == "sft":
        recipe = {"task": "sft", "model": model, "training": training,
                  "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 48}}
    else:
        training.update(disable_dropout=True)
        recipe = {"task": "dpo", "model": model, "training": training,
                  "data": {"train": str(ROOT / "toolkit/assets/toy_preferences.jsonl"), "max_length": 48}}
    recipe["data"]["streaming"] = streamed
    return recipe


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "sft", "dpo", "pretrain-streamed", "sft-streamed"])
def test_two_processes_match_one_process_with_the_same_global_batch(task, tmp_path):
    one = launch("cpu.yaml", equivalence_recipe(task, tmp_path, "one", per_device=8), tmp_path)
    two = launch("multi-process-cpu.yaml", equivalence_recipe(task, tmp_path, "two", per_device=4), tmp_path)
    assert one["run"]["world_size"] == 1 and two["run"]["world_size"] == 2
    assert two["stdout"].count("outputs in ") == 1  # progress and results from the main process only
    assert sorted(p.name for p in two["output"].glob("*.safetensors")) == ["model.safetensors"]
    assert (two["output"] / "loss_curve.png").is_file() and not list(two["output"].glob("*rank*"))
    a, b = losses(one["output"]), losses(two["output"])
    assert len(a) == len(b) == 6
    # Same examples per optimizer step, same maths; only the order of float additions differs.
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 2e-3, (a, b)
    assert two["run"]["weights_identical_across_ranks"] is True


def test_attention_and_weight_dtype_are_recipe_options(tmp_path):
    import toolkit

    recipe = classification_recipe(tmp_path, {**TINY_GPT2, "attn_implementation": "eager", "dtype": "bfloat16"},
                                   max_steps=2)
    facts = toolkit.check(recipe)
    assert facts["attention"] == "eager" and facts["dtype"] == "bfloat16" and facts["device"]
    result = toolkit.train(recipe)
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["dtype"] == "bfloat16"


def test_check_prints_the_settings_chosen_for_this_device(tmp_path):
    import toolkit
    from toolkit.devices import bf16_supported

    settings = toolkit.check(classification_recipe(tmp_path, TINY_GPT2))["settings"]
    expected = "bf16" if bf16_supported() else "fp32"
    assert settings["precision"] == f"{expected} (toolkit default for this device)"
    assert settings["gradient_checkpointing"].startswith("False") and "group_by_length" in settings["train_sampling_strategy"]
    ours = toolkit.check(classification_recipe(tmp_path, TINY_GPT2, bf16=False))["settings"]
    assert ours["precision"] == "fp32 (recipe)"


def test_gpu_kernels_follow_trl_where_they_are_installed():
    from toolkit.devices import gpu_kernels

    both = {"flash_attn", "liger_kernel"}
    assert gpu_kernels("cuda", "bfloat16", both) == {"attention": "flash_attention_2", "padding_free_packing": True,
                                                    "liger": True}
    # flash attention takes half precision only: fp32 weights keep sdpa and padded batches
    assert gpu_kernels("cuda", None, both) == {"attention": None, "padding_free_packing": False, "liger": True}
    assert gpu_kernels("cuda", "float16", set()) == {"attention": None, "padding_free_packing": False, "liger": False}
    for elsewhere in (None, "mps"):
        assert gpu_kernels(elsewhere, "bfloat16", both) == {"attention": None, "padding_free_packing": False,
                                                           "liger": False}


def test_sft_on_this_cpu_keeps_padded_length_grouped_batches(tmp_path):
    import toolkit
    from toolkit.tasks.sft import gpu_defaults

    recipe = {"task": "sft", "model": dict(TINY_GPT2),
              "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 64},
              "training": {"output_dir": str(tmp_path / "run")}}
    settings = toolkit.check(recipe)["settings"]
    assert settings["packing"] == "False (toolkit default for this device)"
    assert settings["use_liger_kernel"] == "False (toolkit default for this device)"
    from toolkit.recipe import load_recipe

    defaults, model = gpu_defaults(load_recipe(recipe))
    assert defaults == {} and model.attn_implementation is None


SHARDING_LAUNCHES = [("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")]


@pytest.mark.parametrize(("variable", "name"), SHARDING_LAUNCHES, ids=["fsdp", "deepspeed"])
def test_a_sharding_launch_on_a_cpu_is_refused_when_the_recipe_loads(variable, name, tmp_path, monkeypatch):
    """accelerate sets the variable in every process an FSDP / DeepSpeed config starts; on a CPU it then
    trains plain DDP without a word, so the recipe is refused before any model or data loads."""
    from toolkit.errors import ToolkitError
    from toolkit.recipe import load_recipe

    monkeypatch.setattr("toolkit.devices.accelerator", lambda: None)  # as on this machine, also on a GPU runner
    recipe = classification_recipe(tmp_path, TINY_GPT2)
    load_recipe(recipe)  # no sharding asked for: nothing changes
    monkeypatch.setenv(variable, "true")
    with pytest.raises(ToolkitError) as refused:
        load_recipe(recipe)
    message = str(refused.value)
    assert f"this accelerate launch asks for {name} ({variable}=true" in message
    assert "this machine has no GPU" in message and "unsharded copy of the model in every process" in message
    assert "--config_file recipes/accelerate/multi-process-cpu.yaml" in message
    assert not (tmp_path / "run").exists()


def test_sharding_refusal_names_the_recipe_key_and_spares_gpu_runs(tmp_path, monkeypatch):
    from toolkit.errors import ToolkitError
    from toolkit.recipe import load_recipe

    monkeypatch.setattr("toolkit.devices.accelerator", lambda: None)
    with pytest.raises(ToolkitError, match=r"training\.fsdp asks for FSDP.*remove training\.fsdp and launch"):
        load_recipe(classification_recipe(tmp_path, TINY_GPT2, fsdp="full_shard"))
    # On a GPU the launch shards as asked, unless the recipe itself puts the run on the CPU.
    monkeypatch.setattr("toolkit.devices.accelerator", lambda: "cuda")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    load_recipe(classification_recipe(tmp_path, TINY_GPT2))
    with pytest.raises(ToolkitError, match="FSDP.*training.use_cpu puts this run on the CPU"):
        load_recipe(classification_recipe(tmp_path, TINY_GPT2, use_cpu=True))
