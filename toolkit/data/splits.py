"""Data for every task: local files or a hub dataset -> a DatasetDict with train/validation/test, checked and
carved as the recipe says (pretrain and mlm then cut it into token blocks: toolkit.data.blocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from datasets import Dataset, DatasetDict

from toolkit.errors import ToolkitError
from toolkit.recipe import DataSpec, Recipe
from toolkit.data.sources import load_file, load_hub
from toolkit.data.streaming import column_values, columns_of, examples, finite, is_stream, limited

SPLITS = ("train", "validation", "test")
# What one document of a .txt file is, by datasets' text builder's own `sample_by` names.
TXT_UNITS = {"document": "each .txt file is one document",
             "paragraph": "each blank-line-separated paragraph of a .txt file is one document",
             "line": "each line of a .txt file is one document"}


def txt_unit(spec: DataSpec, task_default: str, where: str) -> str:
    """data.sample_by, or the task's default. Refused when the recipe reads no .txt file, where it would do
    nothing: a key that silently does nothing misleads."""
    if spec.sample_by is None:
        return task_default
    if not reads_txt(spec):
        files = ", ".join(getattr(spec, name) for name in SPLITS if getattr(spec, name)) or f"hub dataset {spec.name}"
        raise ToolkitError(f"{where}.sample_by: it applies to .txt files, and this recipe reads "
                           f"{files}. Drop data.sample_by.")
    return spec.sample_by


def reads_txt(spec: DataSpec) -> bool:
    mixed = [source.id for source in spec.mixture.datasets] if spec.mixture else []
    return any(str(path or "").lower().endswith(".txt") for path in [getattr(spec, name) for name in SPLITS] + mixed)


def mixture_taken(recipe: Recipe) -> dict | None:
    """What the recipe's mixture took from each source when its splits were read (None without a mixture)."""
    if not recipe.data.mixture:
        return None
    from toolkit.data.mixture import taken_report

    return taken_report(recipe.data, recipe.training.get("seed", 42), f"{recipe.source}: data")


def read_splits(recipe: Recipe, txt_default: str = "line") -> DatasetDict:
    """The splits as the recipe's files (or hub dataset) hold them; .txt files cut into documents by
    data.sample_by, else by `txt_default` (datasets' own default is a line)."""
    spec, where = recipe.data, f"{recipe.source}: data"
    unit = txt_unit(spec, txt_default, where)
    if spec.mixture:
        from toolkit.data.mixture import read_mixture

        train = read_mixture(spec, recipe.training.get("seed", 42), where, unit)[0]
        splits = DatasetDict({"train": train, **{name: load_file(getattr(spec, name), f"{where}.{name}", unit,
                                                                 given_as=name)
                                                 for name in SPLITS[1:] if getattr(spec, name)}})
    elif spec.name:
        splits = load_hub(spec.name, spec.config_name, where, streaming=spec.streaming, sample_by=unit)
        for name in (s for s in SPLITS if getattr(spec, s)):
            splits[name] = load_file(getattr(spec, name), f"{where}.{name}", unit, streaming=name == "train" and
                                     spec.streaming, given_as=name)
        splits = DatasetDict({name: split if name == "train" else finite(split) for name, split in splits.items()})
    else:
        splits = DatasetDict({name: load_file(getattr(spec, name), f"{where}.{name}", unit,
                                              streaming=name == "train" and spec.streaming, given_as=name)
                              for name in SPLITS if getattr(spec, name)})
    if "train" not in splits:
        raise ToolkitError(f"{where}: no 'train' split found. Name a train file under data.train.")
    return splits


def finish_splits(splits: DatasetDict, recipe: Recipe, carve: bool = True) -> DatasetDict:
    """Carve missing validation/test splits out of train (unless `carve` is false: the caller carves later,
    e.g. token blocks), refuse empty splits, cap them at data.limit."""
    spec, where = recipe.data, f"{recipe.source}: data"
    if carve:
        splits = carve_splits(splits, spec, seed=recipe.training.get("seed", 42), where=where)
    for name, split in splits.items():
        if not is_stream(split) and len(split) == 0:
            raise ToolkitError(f"{where}: split '{name}' has no rows. Check the file or the split fractions.")
    return DatasetDict({name: limited(split, spec.limit) for name, split in splits.items()})


PARALLEL_ROWS = 20_000  # below this many rows, starting processes costs more than mapping in one


def map_processes(spec: DataSpec, rows: int | str) -> int | None:
    """Processes for tokenizing and mapping (datasets' num_proc, TRL's dataset_num_proc): data.num_proc, or the
    machine's cores (at most 8) for a split large enough to gain from them; None is one process."""
    if spec.num_proc is not None:
        return spec.num_proc if spec.num_proc > 1 else None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 8) if isinstance(rows, int) and rows >= PARALLEL_ROWS and cores > 1 else None


def load_splits(recipe: Recipe, columns: dict[str, str], filled: tuple[str, ...] = ()) -> DatasetDict:
    """Read, check, carve and cap the recipe's splits.

    columns: recipe key -> column name that every split must have; filled: columns that may hold no
    empty value. Both are checked on the splits as read, so a row number is the row in its file.
    """
    where = f"{recipe.source}: data"
    splits = read_splits(recipe)
    require_columns(splits, columns, where)
    require_values(splits, filled, where)
    return finish_splits(splits, recipe)


@dataclass
class SplitPlan:
    """How validation/test are made: read from their files, or carved out of train by data.split."""

    shares: dict[str, float]  # held-out split -> fraction of train carved for it; empty: nothing carved
    shuffle: bool
    seed: int
    given: list[str]  # held-out splits read from their own files
    documents: int  # rows in train as read (documents, for the LM tasks)
    unit: str = "rows"  # what is carved: "rows", or "blocks" of tokens (LM tasks with too few documents)
    blocks: int = 0  # train's token blocks before carving, when unit is "blocks" (set by lm_blocks)

    def carve(self, rows: Dataset) -> dict[str, Dataset]:
        """train and the held-out splits, by fraction of `rows`. Shuffled, the held-out rows come first in
        the shuffled order (as they always have, so a seed gives the splits it gave before); in file order,
        train is the first part, then the held-out splits (validation, then test)."""
        counts = {name: round(len(rows) * share) for name, share in self.shares.items()}
        train_count = len(rows) - sum(counts.values())
        if self.shuffle:
            rows = rows.shuffle(seed=self.seed)
            order = [*counts.items(), ("train", train_count)]
        else:
            order = [("train", train_count), *counts.items()]
        carved, start = {}, 0
        for name, count in order:
            carved[name] = rows.select(range(start, start + count))
            start += count
        return carved

    def summary(self) -> str:
        """How validation/test were made, in words, for `toolkit check` (no ': ' or quotes, so YAML prints
        it plain)."""
        parts = [f"{name} from its own file" for name in self.given] + ([self.carving()] if self.shares else [])
        return "; ".join(parts) or "train only, with no validation or test file and no data.split"

    def carving(self) -> str:
        units = f"{self.documents} documents" if self.unit == "rows" else f"{self.blocks} token blocks"
        if self.shuffle:
            shares = " and ".join(f"{name} {percent(share)}" for name, share in self.shares.items())
            how = f"{shares} of the {units} of train, drawn at random (seed {self.seed})"
        else:
            names = list(self.shares)
            later = [f"{name} {'the last' if name == names[-1] else 'the next'} {percent(self.shares[name])}"
                     for name in names]
            how = (f"in file order, train keeps the first {percent(1 - sum(self.shares.values()))} of its {units}, "
                   f"then {', then '.join(later)}")
        if self.unit == "rows":
            return how
        documents = f"{self.documents} document{'s' if self.documents != 1 else ''}"
        return f"by token blocks, as train holds {documents}, too few to carve whole ones; {how}"


def percent(share: float) -> str:
    return f"{share * 100:g}%"


def carves_every_split(count: int, shares: dict[str, float]) -> bool:
    """Whether `count` rows or blocks give every held-out split at least one and train at least one."""
    held_out = [round(count * share) for share in shares.values()]
    return min(held_out, default=1) >= 1 and count - sum(held_out) >= 1


def plan_split(splits: DatasetDict, spec: DataSpec, seed: int, where: str) -> SplitPlan:
    wanted = {name: getattr(spec.split, name) if spec.split else 0.0 for name in ("validation", "test")}
    wanted = {name: share for name, share in wanted.items() if share and name not in splits}
    if wanted and (sum(wanted.values()) >= 1 or any(share < 0 for share in wanted.values())):
        raise ToolkitError(f"{where}.split: fractions {wanted} must be ≥ 0 and leave rows for training.")
    shuffle = spec.split.shuffle if spec.split else True
    seed = spec.split.seed if spec.split and spec.split.seed is not None else seed
    given = [name for name in ("validation", "test") if name in splits]
    return SplitPlan(wanted, shuffle, seed, given, documents=examples(splits["train"]))


def carved_by_split(recipe: Recipe, name: str) -> bool:
    """Whether split `name` is drawn from train by data.split, its rows in another order than its file's: train
    whenever something was carved from it at random, a held-out split whenever it has no file."""
    spec = recipe.data
    shares = {held: getattr(spec.split, held) if spec.split else 0 for held in ("validation", "test")}
    carved = [held for held, share in shares.items() if share and not getattr(spec, held)]
    if name == "train":
        return bool(carved) and (spec.split.shuffle if spec.split else True)
    return name in carved


def carve_splits(splits: DatasetDict, spec: DataSpec, seed: int, where: str) -> DatasetDict:
    plan = plan_split(splits, spec, seed, where)
    return DatasetDict({**splits, **plan.carve(splits["train"])}) if plan.shares else splits


def require_values(splits: DatasetDict, columns: tuple[str, ...], where: str) -> None:
    for split_name, split in splits.items():
        for column in columns:
            for row, value in enumerate(column_values(split, column)):
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise ToolkitError(f"{where}: split '{split_name}' row {row + 1} has no value in column "
                                       f"'{column}'. Fill it in or drop the row.")


def require_columns(splits: DatasetDict, columns: dict[str, str], where: str) -> None:
    """columns: recipe key -> column name. Names the split, the missing column and what is there."""
    for split_name, split in splits.items():
        for key, column in columns.items():
            if column not in columns_of(split):
                raise ToolkitError(f"{where}: split '{split_name}' has no column '{column}' (data.{key}). "
                                   f"Columns there: {', '.join(columns_of(split))}. Set data.{key} to one "
                                   f"of them.")


def strings_in(split) -> Iterator[str]:
    """Every string in a split, turn contents of conversations included: what a new tokenizer learns from
    (yielded, so a streamed split is read once and never held)."""
    for row in split:
        for value in row.values():
            turns = value if isinstance(value, list) else [{"content": value}]
            yield from (turn["content"] for turn in turns
                        if isinstance(turn, dict) and isinstance(turn.get("content"), str))
