"""What every task does around its trainer: training arguments, the output folder, the finished run."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import PartialState

from toolkit.devices import accelerator, bf16_supported, describe as describe_device
from toolkit.errors import ToolkitError
from toolkit.files import save_atomic, write_atomic
from toolkit.guards import NoFinalCheckpoint, StopOnNonFinite
from toolkit.lm_head import FUSED_LM_HEAD_TASKS, default_mode, set_lm_head
from toolkit.outputs import FINISHED, tidy_finished
from toolkit.per_example import split_off, write_all
from toolkit.recipe import Recipe, recipe_text
from toolkit.report import write_report
from toolkit.schema import coerce_fields



@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    artifacts: dict[str, Path] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"output_dir: {self.output_dir}"] + [f"  {name}: {path}" for name, path in self.artifacts.items()]
        return "\n".join(lines)


def is_main_process() -> bool:
    return PartialState().is_main_process


def say(*parts) -> None:
    """Progress lines from the main process only, so a multi-process run prints each line once."""
    if is_main_process():
        print(*parts, flush=True)


def default_output_dir(recipe: Recipe) -> str:
    name = Path(recipe.source).stem if recipe.source.endswith((".yaml", ".yml")) else recipe.task
    return str(Path("runs") / name)


def has_accelerator() -> bool:
    return accelerator() is not None


def common_defaults(config_class) -> dict:
    """Defaults every task shares, chosen for the device at hand; a recipe's own value always wins.

    TRL's configs default to bf16 and gradient checkpointing, which suit GPUs; on a CPU checkpointing only
    recomputes activations (off), and bf16 is on only where the CPU has it in hardware.
    """
    fields = {f.name for f in dataclasses.fields(config_class)}
    # Checkpoints every 500 steps (transformers' default) so a crashed run can resume; a finished run
    # removes them unless the recipe sets save_strategy. NaN losses are logged as they are (the guard
    # stops on them) instead of being replaced by the running mean.
    defaults = {"save_strategy": "steps", "save_steps": 500, "save_total_limit": 2, "logging_nan_inf_filter": False,
                "logging_steps": 10, "report_to": "none",
                "ddp_find_unused_parameters": False,
                "dataloader_pin_memory": torch.cuda.is_available()}  # pinning only helps copies to a GPU
    # bf16 autocast where the hardware has it (TRL's configs default to it everywhere; plain transformers
    # nowhere): Ampere+ GPUs, and CPUs with AVX512-BF16 or AMX, where it measured 1.6x faster than fp32 on one
    # machine and as fast on another.
    defaults["bf16"] = bf16_supported()
    if not has_accelerator():
        # transformers >= 5.24 renames gradient_checkpointing to activation_checkpointing (the old name warns)
        checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
        defaults[checkpointing] = False
    return {key: value for key, value in defaults.items() if key in fields}


TRACKERS = {"tensorboard": ("tensorboard", "tensorboardX"), "trackio": ("trackio",), "wandb": ("wandb",),
            "mlflow": ("mlflow",), "comet_ml": ("comet_ml",), "clearml": ("clearml",), "dvclive": ("dvclive",)}


def check_trackers(values: dict, where: str) -> None:
    """report_to names loggers transformers feeds; one that is not installed fails here, not mid-run."""
    import importlib.util

    wanted = values.get("report_to") or []
    for name in [wanted] if isinstance(wanted, str) else wanted:
        packages = TRACKERS.get(name, ())
        if packages and not any(importlib.util.find_spec(package) for package in packages):
            raise ToolkitError(f"{where}.report_to: '{name}' needs the '{packages[0]}' package, which is not "
                               f"installed: pip install {packages[0]} (or pip install 'toolkit[tracking]').")


# Values the trainer would take and then fail on, or train nonsense with: (test, what it must be).
RANGES = {"learning_rate": (lambda v: v > 0, "positive"), "num_train_epochs": (lambda v: v > 0, "positive"),
          "per_device_train_batch_size": (lambda v: v >= 1, "at least 1"),
          "per_device_eval_batch_size": (lambda v: v >= 1, "at least 1"),
          "gradient_accumulation_steps": (lambda v: v >= 1, "at least 1"),
          "weight_decay": (lambda v: v >= 0, "zero or more"), "max_grad_norm": (lambda v: v >= 0, "zero or more")}


def check_ranges(values: dict, where: str) -> None:
    for key, (valid, wanted) in RANGES.items():
        if key in values and isinstance(values[key], (int, float)) and not valid(values[key]):
            raise ToolkitError(f"{where}.{key} is {values[key]}; it must be {wanted}.")


def build_training_args(recipe: Recipe, config_class, defaults: dict):
    """The trainer config from the recipe's `training` block: its own field names, checked, over our defaults.

    On a machine without an accelerator, use_cpu defaults to true: accelerate then runs a multi-process
    launch as real DDP over gloo (MULTI_CPU); without it, each process would train alone.
    """
    where = f"{recipe.source}: training"
    values = coerce_fields(recipe.training, config_class, where)
    check_trackers(values, where)
    check_ranges(values, where)
    ours = {**common_defaults(config_class), **defaults}
    if "gradient_checkpointing" in values:  # the recipe's old name wins over our default under the new one
        ours.pop("activation_checkpointing", None)
    merged = {"use_cpu": not has_accelerator(), **ours, "output_dir": default_output_dir(recipe), **values}
    try:
        args = config_class(**merged)
        _ = args.device  # sets up the (distributed) state now, before anything else can with other settings
    except (ValueError, TypeError) as error:
        raise ToolkitError(f"{where}: {error}") from None
    recipe.training = {**recipe.training, "output_dir": args.output_dir}
    args.toolkit_lm_head = set_lm_head(recipe.model.lm_head or default_mode(args.device.type))
    return args


def train_model(trainer) -> None:
    """trainer.train(), after undoing what an evaluation before training leaves behind.

    Trainer.evaluate() has accelerate prepare the model in evaluation mode, which marks it prepared without a
    DDP wrapper; train() then sees the mark, skips the wrapper, and each process trains alone with its own
    gradients (found by comparing ranks' weights). Unmarked, train() wraps it as it should."""
    model = trainer.model
    if trainer.model_wrapped is model and getattr(model, "_is_accelerate_prepared", False):
        del model._is_accelerate_prepared
        trainer.accelerator._models[:] = [m for m in trainer.accelerator._models if m is not model]
    guard = StopOnNonFinite()
    trainer.add_callback(guard)
    trainer.add_callback(NoFinalCheckpoint())
    trainer.toolkit_train_started = time.time()  # set-up time ends here (run.json: setup_seconds)
    trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
    guard.raise_if_stopped(trainer.args.output_dir)


def ranks_agree(trainer) -> bool:
    """Whether every process ends with the same weights (DDP keeps them in step; a bug would not)."""
    total = torch.zeros(1, dtype=torch.float64, device=trainer.accelerator.device)
    for param in trainer.model.parameters():
        total += param.detach().double().sum() + param.detach().double().abs().sum() * 1e-3
    gathered = trainer.accelerator.gather(total)
    return bool(torch.all(gathered == gathered[0]).item())


def finish_run(recipe: Recipe, trainer, metrics: dict, artifacts: dict[str, Path], started: float) -> TrainResult:
    """Write what every run leaves (recipe as run, metrics, log history, lineage) and, last, run.json."""
    output_dir = recipe.output_dir
    artifacts = {"model": output_dir, **artifacts}
    rows = split_off(metrics)  # per-example evidence goes to its own files, not into metrics.json
    agree = ranks_agree(trainer) if trainer.args.world_size > 1 else True
    named = {"recipe": output_dir / "recipe.yaml", "metrics": output_dir / "metrics.json",
             "log_history": output_dir / "log_history.json", "lineage": output_dir / "lineage.json"}
    artifacts.update(named)
    if is_main_process():
        artifacts.update(write_all(output_dir, rows))
        write_atomic(named["recipe"], recipe_text(recipe))
        write_atomic(named["metrics"], json.dumps(metrics, indent=2))
        write_atomic(named["log_history"], json.dumps(trainer.state.log_history, indent=1))
        write_atomic(named["lineage"], json.dumps(lineage(recipe), indent=2))
        write_atomic(output_dir / "training_args.json", trainer.args.to_json_string())
        runtime = [row["train_runtime"] for row in trainer.state.log_history if "train_runtime" in row]
        info = {"task": recipe.task, "source": recipe.source, "world_size": trainer.args.world_size,
                "weights_identical_across_ranks": agree, "seconds": round(time.time() - started, 1),
                "setup_seconds": round(getattr(trainer, "toolkit_train_started", started) - started, 2),
                "train_seconds": round(runtime[-1], 2) if runtime else None}
        artifacts.update(write_report(output_dir, info))
        info["artifacts"] = {name: str(path) for name, path in artifacts.items()}
        write_atomic(output_dir / FINISHED, json.dumps(info, indent=2))
        tidy_finished(recipe)
    PartialState().wait_for_everyone()
    return TrainResult(output_dir=output_dir, metrics=metrics, artifacts=artifacts)


def lineage(recipe: Recipe) -> dict:
    """Which model and data produced this folder; a model that is itself a run folder brings its own."""
    spec = recipe.model
    parent = None
    if spec.name_or_path and (Path(spec.name_or_path) / "lineage.json").is_file():
        parent = json.loads((Path(spec.name_or_path) / "lineage.json").read_text(encoding="utf-8"))
    data = {split: getattr(recipe.data, split) for split in ("train", "validation", "test") if getattr(recipe.data, split)}
    if recipe.data.name:
        data["name"] = recipe.data.name
    facts = {"task": recipe.task, "recipe": recipe.source, "output_dir": str(recipe.output_dir),
             "model": spec.name_or_path or f"new {spec.architecture} from config {spec.config}",
             "data": data, "parent": parent}
    if recipe.rl and recipe.rl.rewards:
        facts["rewards"] = recipe.rl.rewards  # reward model folders and checkers the policy was optimised against
    return facts


def save_model(trainer, tokenizer, output_dir: Path) -> None:
    """A plain transformers folder that works on its own; a LoRA adapter is merged (and kept beside it)."""
    if trainer.is_world_process_zero():
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            save_atomic(model.save_pretrained, output_dir / "adapter")
            model = copy.deepcopy(model).merge_and_unload()  # the trainer's model stays as it trained
        save_atomic(lambda folder: (model.save_pretrained(folder), tokenizer.save_pretrained(folder)), output_dir)
    trainer.accelerator.wait_for_everyone()


def train_loss(trainer) -> float | None:
    """The run's mean training loss (the Trainer's summary row; evaluations may have logged after it)."""
    rows = [row["train_loss"] for row in trainer.state.log_history if "train_loss" in row]
    return rows[-1] if rows else None


def optimizer_steps(args, train_examples: int) -> tuple[int, int]:
    """(optimizer steps the run will take, examples per step across all processes)."""
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    if args.max_steps > 0:
        return args.max_steps, per_step
    return int(-(-train_examples // per_step) * args.num_train_epochs), per_step


def model_facts(recipe: Recipe, model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    name = recipe.model.name_or_path or f"{recipe.model.architecture} (new, from config)"
    return {"task": recipe.task, "model": name, "class": type(model).__name__, "parameters": total,
            "trainable_parameters": trainable, "device": describe_device(), "dtype": str(model.dtype).split(".")[-1],
            "attention": getattr(model.config, "_attn_implementation", None)}


def length_stats(split, max_length: int) -> dict:
    import numpy as np

    counts = np.array([len(ids) for ids in split["input_ids"]])
    return {"examples": len(split), "mean_tokens": round(float(counts.mean()), 1), "max_tokens": int(counts.max()),
            "p95_tokens": int(np.percentile(counts, 95)), "truncated": int((counts >= max_length).sum())}


def chosen_settings(args, recipe: Recipe) -> dict:
    """The speed-relevant settings in force and who chose them: the recipe, or the toolkit for this device."""
    def who(key: str) -> str:
        return "recipe" if key in recipe.training else "toolkit default for this device"

    precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    checkpointing = getattr(args, "activation_checkpointing", None)
    checkpointing = args.gradient_checkpointing if checkpointing is None else checkpointing
    settings = {
        "device": describe_device(),
        "precision": f"{precision} ({who('bf16') if precision != 'fp16' else who('fp16')})",
        "gradient_checkpointing": f"{bool(checkpointing)} ({who('gradient_checkpointing')})",
        "train_sampling_strategy": f"{getattr(args, 'train_sampling_strategy', 'random')} "
                                   f"({who('train_sampling_strategy')})",
        "dataloader_workers": f"{args.dataloader_num_workers} ({who('dataloader_num_workers')})",
        "checkpoints": f"every {args.save_steps} steps, kept {args.save_total_limit}" if args.save_strategy != "no"
        else "none",
    }
    for key in ("packing", "padding_free", "use_liger_kernel"):
        if hasattr(args, key):
            settings[key] = f"{getattr(args, key)} ({who(key)})"
    if recipe.task in FUSED_LM_HEAD_TASKS:
        chosen = "recipe" if recipe.model.lm_head else "toolkit default for this device"
        settings["lm_head"] = f"{args.toolkit_lm_head} ({chosen})"
    return settings


def announce(facts: dict) -> None:
    say(f"{facts['task']}: {facts['model']} ({facts['parameters']:,} parameters, "
        f"{facts['trainable_parameters']:,} trainable)")
    unit = next(iter(next(iter(facts["splits"].values())))) if facts["splits"] else "examples"
    counts = ", ".join(f"{name} {next(iter(split.values()))}" for name, split in facts["splits"].items())
    say(f"{unit}: {counts}; {facts['optimizer_steps']} optimizer steps of {facts['examples_per_step']}")
    for warning in facts.get("warnings", []):
        say(f"warning: {warning}")


def eval_datasets(splits):
    """What a TRL trainer should evaluate: validation alone, or validation and test as a dict (TRL trainers
    tokenize the evaluation splits they are given; the Trainer evaluates a dict split by split)."""
    held_out = {name: splits[name] for name in ("validation", "test") if name in splits}
    return held_out.get("validation") if list(held_out) == ["validation"] else (held_out or None)


def evaluated_splits(trainer) -> dict:
    """The held-out splits as the trainer tokenized them, by name."""
    if isinstance(trainer.eval_dataset, dict):
        return dict(trainer.eval_dataset)
    return {"validation": trainer.eval_dataset} if trainer.eval_dataset is not None else {}


def evaluate_only_with_validation(args, splits, recipe: Recipe) -> None:
    """Our default evaluates each epoch; with no validation split there is nothing to evaluate, unless
    the recipe asked for it itself (then the trainer's own message says what is missing)."""
    if "validation" not in splits and "eval_strategy" not in recipe.training:
        args.eval_strategy = "no"
