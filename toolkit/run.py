"""What every task does around its trainer: the training call, the finished run, the saved model."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import PartialState

from toolkit.files import save_atomic
from toolkit.guards import NoFinalCheckpoint, SeededLengthGroups, StopOnBadLoss
from toolkit.lm_head import lm_head_mode
from toolkit.loading import pickle_refusal
from toolkit.process_group import waited_out
from toolkit.run_folder import CHECKPOINT_STATE, last_checkpoint, mark_finished, write_run_files
from toolkit.per_example import split_off, write_all
from toolkit.progress import is_main_process, say
from toolkit.recipe import Recipe
from toolkit.report import write_report


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    artifacts: dict[str, Path] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"output_dir: {self.output_dir}"] + [f"  {name}: {path}" for name, path in self.artifacts.items()]
        return "\n".join(lines)


# Values the trainer would take and then fail on, or train nonsense with: (test, what it must be).


def train_model(trainer, checkpoint: str | None = None) -> None:
    """trainer.train(), from `checkpoint` (the run folder's plan on --resume; else the recipe's own
    training.resume_from_checkpoint, if any), after undoing what an evaluation before training leaves behind.

    Trainer.evaluate() has accelerate prepare the model in evaluation mode, which marks it prepared without a
    DDP wrapper; train() then sees the mark, skips the wrapper, and each process trains alone with its own
    gradients (found by comparing ranks' weights). Unmarked, train() wraps it as it should."""
    model = trainer.model
    if trainer.model_wrapped is model and getattr(model, "_is_accelerate_prepared", False):
        del model._is_accelerate_prepared
        trainer.accelerator._models[:] = [m for m in trainer.accelerator._models if m is not model]
    guard = StopOnBadLoss(getattr(trainer.args, "toolkit_divergence_factor", None))
    trainer.add_callback(guard)
    trainer.add_callback(NoFinalCheckpoint())
    trainer.add_callback(SeededLengthGroups())
    trainer.toolkit_train_started = time.time()  # set-up time ends here (run.json: setup_seconds)
    checkpoint = checkpoint or trainer.args.resume_from_checkpoint
    trainer.toolkit_resumed_at = resumed_step(checkpoint)  # read now: save_total_limit may delete it as the run goes
    try:
        with lm_head_mode(getattr(trainer.args, "toolkit_lm_head", "trl")):
            trainer.train(resume_from_checkpoint=checkpoint)
    except Exception as error:
        refused = checkpoint and pickle_refusal(Path(checkpoint), error, "Delete that checkpoint to resume from an "
                                                "earlier one, or start over with --overwrite.")
        stalled = waited_out(error, trainer.args, last_checkpoint(trainer.args.output_dir))
        if refused or stalled:
            raise (refused or stalled) from error
        raise
    guard.raise_if_stopped(trainer.args.output_dir)


def ranks_agree(trainer) -> bool:
    """Whether every process ends with the same weights (DDP keeps them in step; a bug would not)."""
    total = torch.zeros(1, dtype=torch.float64, device=trainer.accelerator.device)
    for param in trainer.model.parameters():
        total += param.detach().double().sum() + param.detach().double().abs().sum() * 1e-3
    gathered = trainer.accelerator.gather(total)
    return bool(torch.all(gathered == gathered[0]).item())


# Held-out loss after training over before, measured on the shipped recipes (pretrain, mlm, sft, reward, dpo): 0.1-0.8
# at their learning rate and at 10 times it, up to 1.8 at 100 times it; 50-520 when the run diverged.
HELD_OUT_RISE = 10


def held_out_rise(metrics: dict) -> dict:
    """{split: {before, after, times}} for each held-out split whose loss ended more than HELD_OUT_RISE times its
    value before training: a run that diverged and still finished (e.g. with training.divergence_factor: null)."""
    rose = {}
    for split, was in (metrics.get("before") or {}).items():
        now = metrics.get(split)
        before, after = (was or {}).get("loss"), (now or {}).get("loss") if isinstance(now, dict) else None
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) and before > 0:
            if not math.isfinite(after) or after > HELD_OUT_RISE * before:
                rose[split] = {"before": before, "after": after, "times": round(after / before, 1)}
    return rose


def finish_run(recipe: Recipe, trainer, metrics: dict, artifacts: dict[str, Path], started: float) -> TrainResult:
    """Write what every run leaves (recipe as run, metrics, log history, lineage) and, last, run.json."""
    output_dir = recipe.output_dir
    artifacts = {"model": output_dir, **artifacts}
    rose = held_out_rise(metrics)
    if rose:
        metrics["held_out_loss_rose"] = rose
    rows = split_off(metrics)  # per-example evidence goes to its own files, not into metrics.json
    agree = ranks_agree(trainer) if trainer.args.world_size > 1 else True
    if is_main_process():
        artifacts.update(write_all(output_dir, rows))
        artifacts.update(write_run_files(recipe, metrics, trainer.state.log_history, trainer.args.to_json_string()))
        runtime = [row["train_runtime"] for row in trainer.state.log_history if "train_runtime" in row]
        info = {"task": recipe.task, "source": recipe.source, "world_size": trainer.args.world_size,
                "weights_identical_across_ranks": agree, "seconds": round(time.time() - started, 1),
                "setup_seconds": round(getattr(trainer, "toolkit_train_started", started) - started, 2),
                "train_seconds": round(runtime[-1], 2) if runtime else None}
        artifacts.update(write_report(output_dir, info))
        info["artifacts"] = {name: str(path) for name, path in artifacts.items()}
        mark_finished(recipe, info)
    PartialState().wait_for_everyone()
    for split, values in rose.items():
        say(f"warning: the held-out loss rose {values['times']:g} times during training ({split}: {values['before']:.4g} "
            f"-> {values['after']:.4g}): the run diverged. Lower training.learning_rate, or set max_grad_norm.")
    return TrainResult(output_dir=output_dir, metrics=metrics, artifacts=artifacts)


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
    """The run's mean training loss per step. The Trainer's summary row (evaluations may have logged after it)
    averages only the steps of this call; a resumed run adds the steps before its checkpoint from the logged losses
    the checkpoint kept (each the mean over the steps since the previous log). Steps between the checkpoint's last
    log and the checkpoint itself were logged nowhere and are left out (none when checkpoints fall on log steps)."""
    history = trainer.state.log_history
    rows = [row["train_loss"] for row in history if "train_loss" in row]
    if not rows:
        return None
    resumed_at = getattr(trainer, "toolkit_resumed_at", 0)  # set in train_model
    if not resumed_at:
        return rows[-1]
    total, counted, last = 0.0, 0, 0
    for row in history:
        if "loss" in row and row["step"] <= resumed_at:
            total, counted, last = total + row["loss"] * (row["step"] - last), counted + row["step"] - last, row["step"]
    since = trainer.state.global_step - resumed_at
    return (total + rows[-1] * since) / (counted + since) if counted + since else rows[-1]


def resumed_step(checkpoint: str | None) -> int:
    """The step a run resumed at: its checkpoint's global_step (0 for a run that started afresh)."""
    if not checkpoint:
        return 0
    state = Path(checkpoint) / CHECKPOINT_STATE
    return json.loads(state.read_text(encoding="utf-8")).get("global_step", 0) if state.is_file() else 0


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


