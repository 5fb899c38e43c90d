"""What every run does around its trainer (toolkit.training puts it in order): the training call, the saved model,
the run's training loss, and what a finished run hands on."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from toolkit.files import save_atomic
from toolkit.guards import NoFinalCheckpoint, SeededLengthGroups, StopOnBadLoss
from toolkit.lm_head import lm_head_mode
from toolkit.loading import pickle_refusal
from toolkit.process_group import waited_out
from toolkit.recipe import Recipe
from toolkit.metrics.per_example import ROWS
from toolkit.plots import plot_values
from toolkit.run_folder import CHECKPOINT_STATE, last_checkpoint, plot_file


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict
    artifacts: dict[str, Path] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"output_dir: {self.output_dir}"] + [f"  {name}: {path}" for name, path in self.artifacts.items()]
        return "\n".join(lines)


@dataclass
class Outcome:
    """A trained run as its task's hooks see it: the trainer, and the held-out measurements before and after."""

    recipe: Recipe
    prepared: object
    trainer: object
    before: dict
    after: dict
    output_dir: Path


def per_example_plots(outcome: Outcome, name: str, title: str, xlabel: str, key, zero_line: bool = False) -> dict:
    """For each held-out split, a histogram of one per-example value before and after training (after only when
    nothing was measured before): how it spreads over the examples, not just its mean. key: the row's field, or a
    function of the split's rows that names it. Written as `name`_<split>.png."""
    artifacts = {}
    for split, values in outcome.after.items():
        before, after = outcome.before.get(split, {}).get(ROWS, []), values[ROWS]
        field_name = key(after) if callable(key) else key
        path = plot_values({"before": [row[field_name] for row in before], "after": [row[field_name] for row in after]},
                           plot_file(outcome.output_dir, name, split), title.format(split=split, key=field_name),
                           xlabel.format(key=field_name), zero_line=zero_line)
        if path:
            artifacts[f"{name}_{split}"] = path
    return artifacts


@dataclass
class Trained:
    started_at: float  # when training began: set-up time ends here (run.json: setup_seconds)
    resumed_at: int  # the step a --resume started from (0: a fresh run)


def train_model(trainer, checkpoint: str | None, divergence_factor: float | None, lm_head: str) -> Trained:
    """trainer.train(), from `checkpoint` (the run folder's plan on --resume; else the recipe's own
    training.resume_from_checkpoint, if any), after undoing what an evaluation before training leaves behind.

    Trainer.evaluate() has accelerate prepare the model in evaluation mode, which marks it prepared without a
    DDP wrapper; train() then sees the mark, skips the wrapper, and each process trains alone with its own
    gradients (found by comparing ranks' weights). Unmarked, train() wraps it as it should."""
    model = trainer.model
    if trainer.model_wrapped is model and getattr(model, "_is_accelerate_prepared", False):
        del model._is_accelerate_prepared
        trainer.accelerator._models[:] = [m for m in trainer.accelerator._models if m is not model]
    guard = StopOnBadLoss(divergence_factor)
    trainer.add_callback(guard)
    trainer.add_callback(NoFinalCheckpoint())
    trainer.add_callback(SeededLengthGroups())
    checkpoint = checkpoint or trainer.args.resume_from_checkpoint
    # the step is read now: save_total_limit may delete the checkpoint as the run goes
    trained = Trained(started_at=time.time(), resumed_at=resumed_step(checkpoint))
    try:
        with lm_head_mode(lm_head):
            trainer.train(resume_from_checkpoint=checkpoint)
    except Exception as error:
        refused = checkpoint and pickle_refusal(Path(checkpoint), error, "Delete that checkpoint to resume from an "
                                                "earlier one, or start over with --overwrite.")
        stalled = waited_out(error, trainer.args, last_checkpoint(trainer.args.output_dir))
        if refused or stalled:
            raise (refused or stalled) from error
        raise
    guard.raise_if_stopped(trainer.args.output_dir)
    return trained


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


def save_model(trainer, tokenizer, output_dir: Path) -> None:
    """A plain transformers folder that works on its own; a LoRA adapter is merged (and kept beside it)."""
    if trainer.is_world_process_zero():
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            save_atomic(model.save_pretrained, output_dir / "adapter")
            model = copy.deepcopy(model).merge_and_unload()  # the trainer's model stays as it trained
        save_atomic(lambda folder: (model.save_pretrained(folder), tokenizer.save_pretrained(folder)), output_dir)
    trainer.accelerator.wait_for_everyone()


def train_loss(trainer, resumed_at: int = 0) -> float | None:
    """The run's mean training loss per step. The Trainer's summary row (evaluations may have logged after it)
    averages only the steps of this call; a resumed run adds the steps before its checkpoint from the logged losses
    the checkpoint kept (each the mean over the steps since the previous log). Steps between the checkpoint's last
    log and the checkpoint itself were logged nowhere and are left out (none when checkpoints fall on log steps)."""
    history = trainer.state.log_history
    rows = [row["train_loss"] for row in history if "train_loss" in row]
    if not rows:
        return None
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


