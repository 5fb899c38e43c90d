"""What a run prints: progress lines from the main process only, and the facts it announces before training."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from accelerate import PartialState

from toolkit.devices import describe as describe_device
from toolkit.recipe import Recipe


VERBOSE = "TOOLKIT_VERBOSE"  # set (by `toolkit --verbose`): the libraries' own reports are shown as they print them


def verbose() -> bool:
    return os.environ.get(VERBOSE) == "1"


@contextmanager
def quiet_stderr(kept: Path):
    """Inside the block, what the process and its workers write to stderr goes to `kept` instead of the screen,
    unless `toolkit --verbose`: datatrove logs every task's every step (about 190 lines for the demo corpus) before
    the summary a person reads. The file keeps them, for when something fails."""
    if verbose():
        yield
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    screen = os.dup(2)
    with open(kept, "a", encoding="utf-8") as sink:
        os.dup2(sink.fileno(), 2)  # the descriptor, so forked workers write there too
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(screen, 2)
            os.close(screen)


def is_main_process() -> bool:
    return PartialState().is_main_process


def say(*parts) -> None:
    """Progress lines from the main process only, so a multi-process run prints each line once."""
    if is_main_process():
        print(*parts, flush=True)


def model_facts(recipe: Recipe, model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    name = recipe.model.name_or_path or f"{recipe.model.architecture} (new, from config)"
    facts = {"task": recipe.task, "model": name, "class": type(model).__name__, "parameters": total,
             "trainable_parameters": trainable, "device": describe_device(), "dtype": str(model.dtype).split(".")[-1],
             "attention": getattr(model.config, "_attn_implementation", None)}
    if recipe.data.mixture:
        from toolkit.data.splits import mixture_taken

        facts["mixture"] = mixture_taken(recipe)  # every task's check and announcement show the mix
    from toolkit.data.files import folder_readings

    folders = folder_readings(recipe.data, f"{recipe.source}: data")
    if folders:
        facts["folders"] = folders  # how each folder of data files was read, split by split
    return facts


def length_stats(split, max_length: int) -> dict:
    import numpy as np

    counts = np.array([len(ids) for ids in split["input_ids"]])
    return {"examples": len(split), "mean_tokens": round(float(counts.mean()), 1), "max_tokens": int(counts.max()),
            "p95_tokens": int(np.percentile(counts, 95)), "truncated": int((counts >= max_length).sum())}


# Below these, a run is unlikely to learn, or its held-out numbers to mean much: measured on the shipped recipes
# and on a 60-row copy of the MiniLM one (6 steps: test accuracy 0.25, one class predicted; 70 steps: 0.75).
FEW_STEPS = 50
FEW_HELD_OUT = 20


def small_data_warnings(facts: dict, recipe: Recipe) -> list[str]:
    """What a newcomer's own small data meets with a copied recipe: too few optimizer steps to learn from (when the
    step count follows from the data, not from training.max_steps), and held-out splits too small to measure."""
    warnings = []
    steps = facts.get("optimizer_steps")
    if isinstance(steps, int) and steps < FEW_STEPS and "max_steps" not in recipe.training:
        warnings.append(f"{steps} optimizer steps is few to learn from (the shipped recipes take {FEW_STEPS} or more): "
                        f"raise training.num_train_epochs, or lower per_device_train_batch_size.")
    for name, split in facts.get("splits", {}).items():
        count = next(iter(split.values()), None) if isinstance(split, dict) else None
        if name != "train" and isinstance(count, int) and 0 < count < FEW_HELD_OUT:
            warnings.append(f"the {name} split holds {count} rows: one row moves an accuracy by {1 / count:.2f}, and "
                            f"a 95% interval around 0.5 spans about ±{0.98 / count ** 0.5:.2f}. Give it "
                            f"{FEW_HELD_OUT} or more (a larger data.split share, or its own file).")
    return warnings


def announce(facts: dict) -> None:
    say(f"{facts['task']}: {facts['model']} ({facts['parameters']:,} parameters, "
        f"{facts['trainable_parameters']:,} trainable)")
    unit = next(iter(next(iter(facts["splits"].values())))) if facts["splits"] else "examples"
    counts = ", ".join(f"{name} {next(iter(split.values()))}" for name, split in facts["splits"].items())
    step_unit = facts.get("step_unit", unit)
    say(f"{unit}: {counts}; {facts['optimizer_steps']} optimizer steps of {facts['examples_per_step']} {step_unit}")
    if facts.get("mixture"):
        say("train mixture (seed {seed}): ".format(**facts["mixture"]) + "; ".join(
            f"{row['taken']} rows of {row['id']} [{row['split']}] (weight {row['weight']:g} of {row['rows']})"
            for row in facts["mixture"]["datasets"]))
    for key, reading in facts.get("folders", {}).items():
        say(f"{key}: read {reading}")
    cleaning = facts.get("corpus_cleaning")
    if cleaning:
        removed = ", ".join(f"{row['step']} {row['removed']}" for row in cleaning["steps"] if row.get("removed"))
        say(f"corpus cleaning: kept {cleaning['documents_kept']} of {cleaning['documents_in']} documents"
            + (f" (removed: {removed})" if removed else ""))
    for warning in facts.get("warnings", []):
        say(f"warning: {warning}")
