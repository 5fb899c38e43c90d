"""The trainer config a recipe's `training` block becomes: its own field names, checked, over the toolkit's
defaults for this device; and what decides speed, with who chose it."""

from __future__ import annotations

import dataclasses

import torch

from toolkit.devices import accelerator, bf16_supported, describe as describe_device
from toolkit.errors import ToolkitError
from toolkit.guards import DIVERGENCE_FACTOR
from toolkit.lm_head import default_mode, mode_in_force
from toolkit.process_group import start_process_group
from toolkit.recipe import Recipe
from toolkit.schema import coerce_fields, suggest
from toolkit.threads import planned


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
    # The first step's loss is logged too: the start a diverging loss is measured against (toolkit.guards).
    defaults = {"save_strategy": "steps", "save_steps": 500, "save_total_limit": 2, "logging_nan_inf_filter": False,
                "logging_steps": 10, "logging_first_step": True, "report_to": "none",
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


RANGES = {"learning_rate": (lambda v: v > 0, "positive"), "num_train_epochs": (lambda v: v > 0, "positive"),
          "per_device_train_batch_size": (lambda v: v >= 1, "at least 1"),
          "per_device_eval_batch_size": (lambda v: v >= 1, "at least 1"),
          "gradient_accumulation_steps": (lambda v: v >= 1, "at least 1"),
          "weight_decay": (lambda v: v >= 0, "zero or more"), "max_grad_norm": (lambda v: v >= 0, "zero or more")}


def check_ranges(values: dict, where: str) -> None:
    for key, (valid, wanted) in RANGES.items():
        if key in values and isinstance(values[key], (int, float)) and not valid(values[key]):
            raise ToolkitError(f"{where}.{key} is {values[key]}; it must be {wanted}.")


def check_data_keys(recipe: Recipe, config_class, where: str) -> None:
    """training.max_length where the trainer has none: transformers' own TrainingArguments (classification,
    pretrain, mlm) cut examples at data.max_length, and "unknown key" alone would not say where it goes. TRL's
    configs have a max_length of their own, or (GRPO, RLOO) lengths of another name that their message offers."""
    fields = {f.name for f in dataclasses.fields(config_class)}
    if "max_length" in recipe.training and "max_length" not in fields and not config_class.__module__.startswith("trl"):
        raise ToolkitError(f"{where}.max_length: {config_class.__name__} has no max_length; task '{recipe.task}' "
                           f"cuts examples at data.max_length. Move it there.")


@dataclasses.dataclass
class OwnKeys:
    """Keys of a recipe's `training` block that the toolkit reads itself; every other key is a field of the trainer's
    config class. A task's defaults (TaskFacts.defaults) may set them too."""

    # Stop the run when its training loss stays above this many times its first logged loss for 3 logs in a row
    # (toolkit.guards.StopOnBadLoss); null: never. Above 1.
    divergence_factor: float | None = DIVERGENCE_FACTOR
    # torch's threads on a CPU run; null: the cores other processes leave free when the run starts (toolkit.threads)
    threads: int | None = None


OWN_KEYS = [f.name for f in dataclasses.fields(OwnKeys)]


def split_training(training: dict, config_class, where: str) -> tuple[dict, dict]:
    """(the trainer config's fields, checked and coerced against config_class; the toolkit's own keys, checked)."""
    fields = {f.name for f in dataclasses.fields(config_class)}
    theirs = {key: value for key, value in training.items() if key not in OWN_KEYS}
    for key in theirs:
        close = suggest(str(key), OWN_KEYS)
        if key not in fields and close:  # a typo of one of ours: name ours, not the config's nearest field
            raise ToolkitError(f"{where}: unknown key '{key}'{close}.")
    return coerce_fields(theirs, config_class, where), checked_own(training, where)


def checked_own(training: dict, where: str) -> dict:
    """The toolkit's own keys of a training block, coerced and checked."""
    own = coerce_fields({key: training[key] for key in OWN_KEYS if key in training}, OwnKeys, where)
    factor = own.get("divergence_factor")
    if factor is not None and not factor > 1:
        raise ToolkitError(f"{where}.divergence_factor is {factor}; it must be above 1 (how many times its first "
                           f"logged value the training loss may reach), or null never to stop a run for it.")
    if own.get("threads") is not None and own["threads"] < 1:
        raise ToolkitError(f"{where}.threads is {own['threads']}; it must be at least 1, or null to use the cores "
                           f"that are free when the run starts.")
    return own


def build_training_args(recipe: Recipe, config_class, defaults: dict):
    """The trainer config from the recipe's `training` block: its own field names, checked, over our defaults.

    On a machine without an accelerator, use_cpu defaults to true: accelerate then runs a multi-process
    launch as real DDP over gloo (MULTI_CPU); without it, each process would train alone.
    """
    where = f"{recipe.source}: training"
    check_data_keys(recipe, config_class, where)
    values, _ = split_training(recipe.training, config_class, where)  # the toolkit's own keys: own_keys
    check_trackers(values, where)
    check_ranges(values, where)
    ours = {key: value for key, value in {**common_defaults(config_class), **defaults}.items() if key not in OWN_KEYS}
    if recipe.data.streaming:  # a stream is read in its order: there is nothing to sample or group by length
        ours["train_sampling_strategy"] = "sequential"
    if "gradient_checkpointing" in values:  # the recipe's old name wins over our default under the new one
        ours.pop("activation_checkpointing", None)
    merged = {"use_cpu": not has_accelerator(), **ours, **values, "output_dir": str(recipe.output_dir)}
    field_defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
    start_process_group(merged["use_cpu"], merged.get("ddp_timeout", field_defaults.get("ddp_timeout", 1800)),
                        merged.get("ddp_backend"))  # before the config: it sets up the (distributed) state
    try:
        args = config_class(**merged)
        _ = args.device  # sets up the (distributed) state now, before anything else can with other settings
    except (ValueError, TypeError) as error:
        raise ToolkitError(f"{where}: {error}") from error
    return args


def own_keys(recipe: Recipe, defaults: dict) -> OwnKeys:
    """The toolkit's own training keys in force: the recipe's, over the task's defaults, over OwnKeys'. Checked
    with the rest of the block by build_training_args."""
    own = checked_own(recipe.training, f"{recipe.source}: training")
    return OwnKeys(**{**{key: defaults[key] for key in OWN_KEYS if key in defaults}, **own})


def lm_head_of(recipe: Recipe, args) -> str:
    """How TRL's fused LM head runs for this recipe on this device (toolkit.lm_head)."""
    return mode_in_force(recipe.model.lm_head or default_mode(args.device.type))


def optimizer_steps(args, train_examples: int) -> tuple[int, int]:
    """(optimizer steps the run will take, examples per step across all processes)."""
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    if args.max_steps > 0:
        return args.max_steps, per_step
    return int(-(-train_examples // per_step) * args.num_train_epochs), per_step


def chosen_settings(args, recipe: Recipe, fused_lm_head: bool) -> dict:
    """The speed-relevant settings in force and who chose them: the recipe, or the toolkit for this device."""
    def who(key: str) -> str:
        return "recipe" if key in recipe.training else "toolkit default for this device"

    precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    checkpointing = getattr(args, "activation_checkpointing", None)
    checkpointing = args.gradient_checkpointing if checkpointing is None else checkpointing
    threads = planned(own_keys(recipe, {}).threads, not has_accelerator())
    settings = {
        "device": describe_device(),
        **({"threads": f"{threads[0]} ({threads[1]})"} if threads else {}),
        "precision": f"{precision} ({who('bf16') if precision != 'fp16' else who('fp16')})",
        "gradient_checkpointing": f"{bool(checkpointing)} ({who('gradient_checkpointing')})",
        "train_sampling_strategy": f"{getattr(args, 'train_sampling_strategy', 'random')} "
                                   f"({who('train_sampling_strategy')})",
        "dataloader_workers": f"{args.dataloader_num_workers} ({who('dataloader_num_workers')})",
        "checkpoints": f"every {args.save_steps} steps, kept {args.save_total_limit}" if args.save_strategy != "no"
        else "none",
    }
    from toolkit.data.splits import PARALLEL_ROWS, map_processes

    settings["preprocessing_processes"] = (f"{recipe.data.num_proc} (recipe)" if recipe.data.num_proc else
                                           f"{map_processes(recipe.data, PARALLEL_ROWS) or 1} for a train split of "
                                           f"{PARALLEL_ROWS:,}+ rows, else 1 (toolkit default for this machine)")
    for key in ("packing", "padding_free", "use_liger_kernel"):
        if hasattr(args, key):
            settings[key] = f"{getattr(args, key)} ({who(key)})"
    if fused_lm_head:
        chosen = "recipe" if recipe.model.lm_head else "toolkit default for this device"
        settings["lm_head"] = f"{lm_head_of(recipe, args)} ({chosen})"
    return settings


def evaluate_only_with_validation(args, splits, recipe: Recipe) -> None:
    """Our default evaluates each epoch; with no validation split there is nothing to evaluate, unless
    the recipe asked for it itself (then the trainer's own message says what is missing)."""
    if "validation" not in splits and "eval_strategy" not in recipe.training:
        args.eval_strategy = "no"
