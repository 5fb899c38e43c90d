"""What an `accelerate launch` asks of this machine, read from its options and config file, and refused before any
process starts where this machine cannot give it: FSDP or DeepSpeed without GPUs, DeepSpeed not installed, more
processes than CPU cores (unless forced).

Once started, each process would stop on its own (the toolkit's sharding check, accelerate's ImportError) and the
launcher would wrap their messages in a traceback of its own; `toolkit launch` says it once, here. The options are
read as accelerate reads them: a flag (--use_fsdp, --multi_gpu, ...) chooses the launch over the config's
distributed_type, --num_processes over its num_processes, and with no --config_file its default config counts
(unless --cpu).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from toolkit.errors import ToolkitError

SHARDING = {"FSDP": "use_fsdp", "DEEPSPEED": "use_deepspeed"}  # distributed_type: the flag that asks for it
NAMES = {"FSDP": "FSDP", "DEEPSPEED": "DeepSpeed"}
MODE_FLAGS = ("multi_gpu", "use_fsdp", "use_deepspeed")  # accelerate reads distributed_type only without these
CPU_LAUNCH = "--config_file recipes/accelerate/multi-process-cpu.yaml"


def gpus() -> int:
    """The GPUs FSDP and DeepSpeed can shard over (CUDA or ROCm, Intel XPU)."""
    import torch

    from toolkit.devices import accelerator

    kind = accelerator()
    return torch.cuda.device_count() if kind == "cuda" else torch.xpu.device_count() if kind == "xpu" else 0


def cores() -> int:
    """The CPU cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def deepspeed_installed() -> bool:
    return importlib.util.find_spec("deepspeed") is not None


def default_config() -> Path | None:
    """accelerate's own config (`accelerate config` writes it), which a launch without --config_file uses."""
    from accelerate.commands.config import default_config_file

    return Path(default_config_file) if Path(default_config_file).is_file() else None


@dataclass
class Launch:
    """What a launch asks for, each with the words that asked for it (for the message)."""

    sharding: str | None  # FSDP or DEEPSPEED
    sharding_from: str
    processes: int  # started on this machine
    processes_from: str
    cpu_from: str | None  # what puts the run on the CPU, or None


def read_options(options: list[str]) -> argparse.Namespace:
    """The accelerate options that decide what runs; the others are accelerate's to read."""
    parser = argparse.ArgumentParser(prog="accelerate launch", add_help=False, allow_abbrev=False,
                                     exit_on_error=False)
    for name in ("config_file", "num_processes", "num_machines"):
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}")
    for name in ("cpu", *MODE_FLAGS):
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", action="store_true")
    try:
        return parser.parse_known_args(options)[0]
    except argparse.ArgumentError as error:
        raise ToolkitError(f"accelerate launch options: {error}.") from error


def read_config(options: argparse.Namespace) -> tuple[dict, str]:
    """The accelerate config the launch uses (YAML or JSON), and how to name it in a message; ({}, "") for none."""
    if options.config_file is None:
        default = None if options.cpu else default_config()
        return (load_config(default), f"accelerate's default config {default}") if default else ({}, "")
    path = Path(options.config_file)
    if not path.is_file():
        raise ToolkitError(f"--config_file {path}: no such file. The shipped configs are in recipes/accelerate/.")
    return load_config(path), f"--config_file {options.config_file}"


def load_config(path: Path) -> dict:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ToolkitError(f"{path}: not a readable accelerate config ({' '.join(str(error).split())}).") from error
    if not isinstance(config, dict):
        raise ToolkitError(f"{path}: an accelerate config is a mapping of keys (distributed_type, num_processes, "
                           f"...), not a {type(config).__name__}.")
    return config


def whole_number(value, said: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolkitError(f"{said}: '{value}' is not a whole number.") from None


def read_launch(options: list[str]) -> Launch:
    args = read_options(options)
    config, said = read_config(args)
    flag = next((flag for flag in MODE_FLAGS if getattr(args, flag)), None)
    if flag:
        sharding = next((kind for kind, its_flag in SHARDING.items() if its_flag == flag), None)
        sharding_from = f"--{flag}"
    else:  # str(): YAML reads an unquoted NO as false, which is no sharding either
        kind = str(config.get("distributed_type", "")).upper()
        sharding, sharding_from = (kind if kind in SHARDING else None), f"{said} (distributed_type: {kind})"
    if args.num_processes is not None:
        processes = whole_number(args.num_processes, "--num_processes")
        processes_from = f"--num_processes {processes}"
    elif "num_processes" in config:
        processes = whole_number(config["num_processes"], f"{said}: num_processes")
        processes_from = f"{said} (num_processes: {processes})"
    else:
        processes = max(gpus(), 1)
        processes_from = "accelerate's default (one process per GPU)"
    machines = whole_number(args.num_machines if args.num_machines is not None else config.get("num_machines", 1),
                            "num_machines")
    on_this_machine = math.ceil(processes / max(machines, 1))  # num_processes counts every machine's
    cpu_from = "--cpu" if args.cpu else f"{said} (use_cpu: true)" if config.get("use_cpu") is True else None
    return Launch(sharding, sharding_from, on_this_machine, processes_from, cpu_from)


def launch_refusal(options: list[str], force: bool = False) -> str | None:
    """Why this machine cannot run the launch these accelerate options ask for, in one line; None if it can."""
    launch = read_launch(options)
    if launch.sharding:
        name = NAMES[launch.sharding]
        without = (f"{launch.cpu_from} puts the run on the CPU" if launch.cpu_from else
                   "this machine has no GPU" if gpus() == 0 else None)
        if without:
            return (f"{launch.sharding_from} asks for {name}, which shards the model over GPUs, but {without}: "
                    f"each process would stop, or train an unsharded copy of the model. Without GPUs, launch with "
                    f"{CPU_LAUNCH} (DDP over gloo; each process holds the whole model); to shard, run on GPUs.")
        if launch.sharding == "DEEPSPEED" and not deepspeed_installed():
            return (f"{launch.sharding_from} asks for DeepSpeed, which is not installed: pip install deepspeed, "
                    f"or shard with --config_file recipes/accelerate/fsdp2.yaml instead.")
    if launch.processes > cores() and not force:
        return (f"{launch.processes_from} starts {launch.processes} processes on this machine, which has "
                f"{cores()} CPU cores: they would take turns on the cores, each step waiting for the slowest. "
                f"Start {cores()} or fewer (--num_processes {cores()}), or add --force before -- to start "
                f"{launch.processes} anyway.")
    return None


def check_launch(options: list[str], force: bool = False) -> None:
    """launch_refusal as the error `toolkit launch` stops with (one line, exit status 2)."""
    refusal = launch_refusal(options, force)
    if refusal:
        raise ToolkitError(refusal)
