"""data.streaming: the train split read lazily, as datasets' IterableDataset, so a corpus larger than memory
trains and nothing is materialised: rows are read, tokenized and cut into blocks as the trainer asks for them.
The held-out splits stay finite (read whole), so their metrics are over every example as always.

A stream has no length, so the run needs training.max_steps; it cannot be carved into held-out splits or
cleaned as a whole (`toolkit prepare-corpus` cleans a corpus once, into files a recipe then streams).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from datasets import Dataset, IterableDataset

from toolkit.errors import ToolkitError

STREAMED_TASKS = ("pretrain", "mlm", "sft", "dpo", "reward")  # the TRL trainers that take an IterableDataset
PEEK = 100  # rows at the head of a stream checked before training; the rest are read as training goes


def is_stream(split) -> bool:
    return isinstance(split, IterableDataset)


def check_streaming(recipe, where: str) -> None:
    """Everything a streamed run cannot do, refused when the recipe is read (before any file is opened)."""
    spec = recipe.data
    if not spec.streaming:
        return
    if recipe.task not in STREAMED_TASKS:
        raise ToolkitError(f"{where}: data.streaming applies to {', '.join(STREAMED_TASKS)}; task '{recipe.task}' "
                           f"reads its data whole. Drop data.streaming.")
    steps = recipe.training.get("max_steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ToolkitError(f"{where}: data.streaming needs training.max_steps (a stream has no length, so epochs "
                           f"cannot be counted), e.g. max_steps: 1000.")
    strategy = recipe.training.get("train_sampling_strategy", "sequential")
    if strategy != "sequential":
        raise ToolkitError(f"{where}: training.train_sampling_strategy '{strategy}' needs the whole train split to "
                           f"draw from; a stream is read in its own order. Drop it, or shuffle the file beforehand.")
    if spec.clean is not None:
        raise ToolkitError(f"{where}: data.clean needs the whole corpus (duplicates are found across it), which a "
                           f"stream never holds. Clean it once with `toolkit prepare-corpus`, then stream the kept "
                           f"files, or drop data.streaming.")
    if spec.mixture is not None:
        raise ToolkitError(f"{where}: data.mixture draws shares of whole datasets, and a stream has no length to "
                           f"take a share of. Drop data.streaming, or stream one file.")
    carved = [name for name in ("validation", "test")
              if spec.split and getattr(spec.split, name) and not getattr(spec, name)]
    if carved:
        raise ToolkitError(f"{where}: data.split would carve {' and '.join(carved)} out of train, which a stream "
                           f"cannot do without reading it whole. Give data.{carved[0]} its own file, or set "
                           f"data.split.{carved[0]}: 0.")


def columns_of(split) -> list[str]:
    """A split's columns; a stream whose reader declares none (plain text) shows them in its first row."""
    if split.column_names is not None:
        return list(split.column_names)
    return list(next(iter(split), {}).keys())


def head(split, count: int = PEEK) -> list[dict]:
    """The rows checked before training: all of a finite split, the first `count` of a stream."""
    return list(itertools.islice(split, count)) if is_stream(split) else split


def column_values(split, column: str) -> Iterable:
    """A column's values to check: all of a finite split's, the stream's first PEEK."""
    return [row[column] for row in head(split)] if is_stream(split) else split[column]


def texts_of(split, column: str) -> Iterator[str] | list[str]:
    """A column's texts to train a tokenizer on: a stream's are read one pass, never held."""
    return (row[column] for row in split) if is_stream(split) else list(split[column])


def limited(split, limit: int | None):
    if not limit:
        return split
    return split.take(limit) if is_stream(split) else split.select(range(min(limit, len(split))))


def finite(split) -> Dataset:
    """A held-out split read whole, where a hub dataset streamed every split."""
    return Dataset.from_list(list(split)) if is_stream(split) else split


def examples(split) -> int | str:
    """How many examples a split holds, for check's output: a stream's count is unknown until read."""
    return "streamed" if is_stream(split) else len(split)
