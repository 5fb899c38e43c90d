"""The process group of a multi-process launch on CPUs, made by the toolkit so that training.ddp_timeout holds there.

transformers hands ddp_timeout to torch.distributed on GPUs only: with use_cpu it builds accelerate's state without
it, so gloo waits its default 30 minutes for a process that froze (seen with one of two ranks stopped by SIGSTOP and
ddp_timeout: 30: the other waited on). accelerate makes no process group when one exists, so the group made here
first, with the timeout, is the one the whole run uses."""

from __future__ import annotations

import os
from datetime import timedelta

from toolkit.errors import ToolkitError


def start_process_group(use_cpu: bool, timeout_seconds: float, backend: str | None) -> None:
    """In a launched process (torchrun / accelerate launch set RANK, WORLD_SIZE and MASTER_ADDR) on CPUs: join the
    launch's process group with `timeout_seconds` for every collective. Anywhere else: nothing."""
    import torch.distributed as dist

    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ and "MASTER_ADDR" in os.environ
    if not (use_cpu and launched and dist.is_available()) or dist.is_initialized():
        return
    dist.init_process_group(backend=backend or "gloo", timeout=timedelta(seconds=timeout_seconds))


def waited_out(error: BaseException, args, checkpoint: str | None) -> ToolkitError | None:
    """The one line for a collective that timed out in a multi-process run (gloo: "Timed out waiting 30000ms for
    recv operation"): another process stopped answering. None for any other error."""
    if args.world_size < 2 or not isinstance(error, RuntimeError) or "timed out" not in str(error).lower():
        return None
    kept = (f"The last checkpoint is {checkpoint}; continue from it with --resume once all processes run."
            if checkpoint else "No checkpoint was saved.")
    return ToolkitError(f"{args.output_dir}: process {args.process_index} waited {args.ddp_timeout} s "
                        f"(training.ddp_timeout) for another process of this launch, which stopped answering (frozen, "
                        f"killed, or out of memory); the run ended. {kept} If one process alone can take that long (a "
                        f"long evaluation or save), raise training.ddp_timeout.")
