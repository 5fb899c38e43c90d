"""Callbacks that keep a run's checkpoints worth having: none with NaN weights, none that only duplicates the
final model, and a resume that replays the batches the run would have seen."""

from __future__ import annotations

import math

import torch
from transformers import TrainerCallback

from toolkit.errors import ToolkitError


class StopOnNonFinite(TrainerCallback):
    """A NaN or inf training loss stops training at once, and no checkpoint is written from then on, so the
    last checkpoint on disk is the last good one. `raise_if_stopped` then tells the user."""

    def __init__(self):
        self.bad: tuple[int, float] | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.bad is None:
            self.bad = (state.global_step, loss)
        if self.bad:
            control.should_training_stop = True
            control.should_save = False

    def on_step_end(self, args, state, control, model=None, **kwargs):
        # A checkpoint due between two logged losses: save it only if the weights are still numbers.
        if control.should_save and model is not None and self.bad is None:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                self.bad = (state.global_step, float("nan"))
                control.should_save = False
                control.should_training_stop = True

    def raise_if_stopped(self, output_dir) -> None:
        if self.bad is None:
            return
        from toolkit.run_folder import last_checkpoint

        step, loss = self.bad
        checkpoint = last_checkpoint(output_dir)
        kept = (f"The last good checkpoint is {checkpoint}; resume from it with resume: true (CLI: --resume) after "
                f"the fix." if checkpoint else "No checkpoint was saved before it.")
        raise ToolkitError(f"{output_dir}: training stopped at step {step}: the loss became {loss}. Lower "
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
