"""Callbacks that keep a run's checkpoints worth having: none with NaN weights or a diverged loss, none that only
duplicates the final model, and a resume that replays the batches the run would have seen."""

from __future__ import annotations

import math

import torch
from transformers import TrainerCallback

from toolkit.errors import ToolkitError


# training.divergence_factor's default. Measured on the shipped recipes (classification, pretrain, mlm, sft, reward,
# dpo; loss over the first step's, logged every 5 steps): at their learning rate the loss peaked at 1.1 times its
# start, at 10 times it 1.9, at 100 times it 20 for one log (9 for 3 in a row); diverged at 10,000 times, it stayed
# 66 to 11,700 times its start for 3 logs in a row.
DIVERGENCE_FACTOR = 10.0
PATIENCE = 3  # logs in a row above it: a single spike, which healthy runs have, is not divergence
MIN_START = 0.1  # the start counts as at least this: a model that already fits its data starts near 0, and a loss of
# a few hundredths is not a divergence


class StopOnBadLoss(TrainerCallback):
    """A NaN or inf training loss stops training at once; so does a loss that stays above `factor` times the run's
    first logged loss (the first step's, with logging_first_step) for PATIENCE logs in a row: the run diverged.
    No checkpoint is written from the first suspect loss on (nor of weights that are not all numbers), so the last
    checkpoint on disk is the last good one. `raise_if_stopped` then tells the user. factor None: no divergence check
    (a policy-gradient loss starts near 0 and changes sign, so no ratio to its start means anything)."""

    def __init__(self, factor: float | None = DIVERGENCE_FACTOR):
        self.factor = factor
        self.bad: tuple[int, str] | None = None  # (step, what the loss did)
        self.above = 0  # logs in a row above factor x the start

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and self.bad is None:
            if not math.isfinite(loss):
                self.bad = (state.global_step, f"the loss became {loss}")
            elif self.factor:
                start = next(row["loss"] for row in state.log_history if "loss" in row)
                limit = self.factor * max(start, MIN_START)
                self.above = self.above + 1 if loss > limit else 0
                if self.above >= PATIENCE:
                    floor = f", counted as {MIN_START:g}" if start < MIN_START else ""
                    self.bad = (state.global_step, f"the loss stayed above {limit:.4g} ({self.factor:g} times its first "
                                f"logged value, {start:.4g}{floor}) for {PATIENCE} logs in a row, up to {loss:.4g}: the "
                                f"run diverged (training.divergence_factor sets how far it may rise; null: never stop)")
        if self.bad:
            control.should_training_stop = True
        if self.bad or self.above:
            control.should_save = False

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if control.should_save and self.above:  # a checkpoint due between two logs while the loss is suspect
            control.should_save = False
        # A checkpoint due between two logged losses: save it only if the weights are still numbers.
        if control.should_save and model is not None and self.bad is None:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                self.bad = (state.global_step, "the loss became nan")  # its weights are not all numbers
                control.should_save = False
                control.should_training_stop = True

    def raise_if_stopped(self, output_dir) -> None:
        if self.bad is None:
            return
        from toolkit.run_folder import last_checkpoint

        step, what = self.bad
        checkpoint = last_checkpoint(output_dir)
        kept = (f"The last good checkpoint is {checkpoint}; resume from it with resume: true (CLI: --resume) after "
                f"the fix." if checkpoint else "No checkpoint was saved before it.")
        raise ToolkitError(f"{output_dir}: training stopped at step {step}: {what}. Lower "
                           f"training.learning_rate, or set max_grad_norm, and check the data. {kept} No final "
                           f"model was written.")


class NoFinalCheckpoint(TrainerCallback):
    """transformers saves a checkpoint (weights and optimizer) after the last step; the toolkit saves the final
    model itself right after, so that copy would only cost time and disk. Checkpoints due on schedule stay."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps and args.save_steps and state.global_step % args.save_steps:
            control.should_save = False


class SeededLengthGroups(TrainerCallback):
    """Length-grouped batches (transformers' LengthGroupedSampler) are shuffled from torch's global random state
    when each epoch's iterator starts. A run resumed in epoch e skips epochs 0..e-1, so that state differs from
    the uninterrupted run's and the rest of the epoch sees other batches (found by a resumed SFT run ending on
    another loss). Seeding the state with seed + epoch as each epoch begins gives both runs the same batches;
    the Trainer then restores the checkpoint's random state for what follows."""

    def on_epoch_begin(self, args, state, control, **kwargs):
        if getattr(args, "train_sampling_strategy", None) == "group_by_length":
            torch.manual_seed(args.seed + int(state.epoch + 1e-6))
