"""How many threads torch computes with on a CPU run: the cores that are free when the run starts.

torch takes every core by default. With another process keeping both of 2 cores busy, that made the main job
take 219 s against 98 s with one thread (benchmarks/RESULTS.md): the processes wait on each other at every
parallel section. So a CPU run measures, for a quarter of a second, how many cores the rest of the machine
keeps busy, and computes with the others, at least one. On a machine nothing else uses it keeps torch's own
choice. `training.threads` chooses the number instead, and so does OMP_NUM_THREADS (torchrun sets it to 1 per
process). A machine with an accelerator keeps torch's own choice.
"""

from __future__ import annotations

import os
import time

import torch

WINDOW = 0.25  # seconds of measuring: long enough to see a busy core, short beside loading a model
TORCH_DEFAULT = torch.get_num_threads()  # what torch chose at import, before any run changed it


def cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_jiffies() -> int | None:
    """CPU time spent busy by the whole machine so far, in clock ticks (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
    return sum(fields[:8]) - idle  # user .. steal; guest time is already counted in user


def others_busy(window: float = WINDOW) -> float | None:
    """How many cores other processes kept busy over `window` seconds (this one sleeps meanwhile); None where
    the machine does not say (then the 1-minute load average stands in)."""
    first = busy_jiffies()
    if first is None:
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    time.sleep(window)
    return max(0.0, (busy_jiffies() - first) / os.sysconf("SC_CLK_TCK") / window)


def choose(chosen: int | None, environment: str | None, available: int, busy: float | None) -> tuple[int | None, str]:
    """(threads, why): the recipe's training.threads, else OMP_NUM_THREADS, else the cores `busy` leaves free;
    None threads: keep torch's own choice (nothing else is running)."""
    if chosen:
        return chosen, "training.threads"
    if environment and environment.strip().isdigit() and int(environment) > 0:
        return int(environment), "OMP_NUM_THREADS"
    if busy is None or round(busy) == 0:
        return None, f"{available} cores, none busy"
    free = max(1, available - round(busy))
    return free, (f"{available} cores, {busy:.1f} kept busy by other processes; set training.threads or "
                  f"OMP_NUM_THREADS to choose")


def planned(chosen: int | None, on_cpu: bool) -> tuple[int, str] | None:
    """(threads, why) for a run starting now (None on an accelerator): what `toolkit check` prints."""
    if not on_cpu:
        return None
    threads, why = choose(chosen, os.environ.get("OMP_NUM_THREADS"), cores(), others_busy())
    return threads or TORCH_DEFAULT, why


def set_for_run(chosen: int | None, on_cpu: bool) -> str | None:
    """Set torch's intra-op threads for a CPU run; says so when they are fewer than torch's own choice."""
    plan = planned(chosen, on_cpu)
    if plan is None:
        return None
    torch.set_num_threads(plan[0])
    return f"threads: {plan[0]} ({plan[1]})" if plan[0] != TORCH_DEFAULT else None
