"""Data for every task: local files or a hub dataset -> a DatasetDict with train/validation/test."""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from toolkit.errors import ToolkitError
from toolkit.paths import local_path
from toolkit.recipe import DataSpec, Recipe

BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet",
            ".txt": "text"}
SPLITS = ("train", "validation", "test")


def load_file(spec: str, where: str) -> Dataset:
    path = local_path(spec, where)
    if path is None:
        raise ToolkitError(f"{where}: data file '{spec}' not found. Give a local file here, or a hub "
                           f"dataset id under data.name.")
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError:
            raise ToolkitError(f"{where}: folder '{path}' is not a dataset saved with save_to_disk.") from None
        return loaded["train"] if isinstance(loaded, DatasetDict) else loaded
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ToolkitError(f"{where}: cannot read '{path.name}': use one of {', '.join(sorted(BUILDERS))}.")
    if path.stat().st_size == 0:
        raise ToolkitError(f"{where}: '{path}' is empty.")
    options = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
    datasets.disable_progress_bars()  # a local file loads in a blink; keep the output for what matters
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as error:  # the builders raise many types; the user needs the file and the cause
        while error.__cause__ is not None or error.__context__ is not None:  # the reader's own words
            error = error.__cause__ or error.__context__
        cause = " ".join(str(error).split()) or type(error).__name__
        if "corresponds to no data" in cause:
            raise ToolkitError(f"{where}: '{path}' has no rows (a header alone?). Add data or drop the "
                               f"file from the recipe.") from None
        raise ToolkitError(f"{where}: could not read '{path}' as {builder}: "
                           f"{first_bad_place(path, builder) or cause}") from None
    finally:
        datasets.enable_progress_bars()


def first_bad_place(path: Path, builder: str) -> str | None:
    """Where a file that failed to load goes wrong, found by reading it again line by line (only after a
    failure, so a good file is read once): bytes that are not UTF-8, or the first line that is not JSON."""
    import json

    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return (f"line {number} is not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1}); "
                        f"save it as UTF-8")
            if builder == "json" and path.suffix.lower() == ".jsonl" and line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as error:
                    return f"line {number} is not valid JSON ({error.msg} at column {error.colno}); fix or drop it"
    return None


def load_hub(spec: DataSpec, where: str) -> DatasetDict:
    try:
        loaded = datasets.load_dataset(spec.name, spec.config_name)
    except Exception as error:
        raise ToolkitError(f"{where}: could not load hub dataset '{spec.name}' ({type(error).__name__}: "
                           f"{error}). Without a network, download it first or use local files.") from None
    if "validation" not in loaded and "valid" in loaded:
        loaded["validation"] = loaded.pop("valid")
    return loaded


def read_splits(recipe: Recipe) -> DatasetDict:
    """The splits as the recipe's files (or hub dataset) hold them."""
    spec, where = recipe.data, f"{recipe.source}: data"
    if spec.name:
        splits = load_hub(spec, where)
        for name in (s for s in SPLITS if getattr(spec, s)):
            splits[name] = load_file(getattr(spec, name), f"{where}.{name}")
    else:
        splits = DatasetDict({name: load_file(getattr(spec, name), f"{where}.{name}")
                              for name in SPLITS if getattr(spec, name)})
    if "train" not in splits:
        raise ToolkitError(f"{where}: no 'train' split found. Name a train file under data.train.")
    return splits


def finish_splits(splits: DatasetDict, recipe: Recipe) -> DatasetDict:
    """Carve missing validation/test splits out of train, refuse empty splits, cap them at data.limit."""
    spec, where = recipe.data, f"{recipe.source}: data"
    splits = carve_splits(splits, spec, seed=recipe.training.get("seed", 42), where=where)
    for name, split in splits.items():
        if len(split) == 0:
            raise ToolkitError(f"{where}: split '{name}' has no rows. Check the file or the split fractions.")
    if spec.limit:
        splits = DatasetDict({name: split.select(range(min(spec.limit, len(split))))
                              for name, split in splits.items()})
    return splits


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


def carve_splits(splits: DatasetDict, spec: DataSpec, seed: int, where: str) -> DatasetDict:
    wanted = {name: getattr(spec.split, name) if spec.split else 0.0 for name in ("validation", "test")}
    wanted = {name: share for name, share in wanted.items() if share and name not in splits}
    if not wanted:
        return splits
    if sum(wanted.values()) >= 1 or any(share < 0 for share in wanted.values()):
        raise ToolkitError(f"{where}.split: fractions {wanted} must be ≥ 0 and leave rows for training.")
    seed = spec.split.seed if spec.split.seed is not None else seed
    rows = splits["train"].shuffle(seed=seed)
    n = len(rows)
    start, carved = 0, {}
    for name, share in wanted.items():
        count = round(n * share)
        carved[name] = rows.select(range(start, start + count))
        start += count
    carved["train"] = rows.select(range(start, n))
    return DatasetDict({**splits, **carved})


def require_values(splits: DatasetDict, columns: tuple[str, ...], where: str) -> None:
    for split_name, split in splits.items():
        for column in columns:
            for row, value in enumerate(split[column]):
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise ToolkitError(f"{where}: split '{split_name}' row {row + 1} has no value in column "
                                       f"'{column}'. Fill it in or drop the row.")


def require_columns(splits: DatasetDict, columns: dict[str, str], where: str) -> None:
    """columns: recipe key -> column name. Names the split, the missing column and what is there."""
    for split_name, split in splits.items():
        for key, column in columns.items():
            if column not in split.column_names:
                raise ToolkitError(f"{where}: split '{split_name}' has no column '{column}' (data.{key}). "
                                   f"Columns there: {', '.join(split.column_names)}. Set data.{key} to one "
                                   f"of them.")


def text_blocks(splits: DatasetDict, tokenizer, column: str, block_size: int, separator_id: int | None) -> DatasetDict:
    """Language-model data: tokenize each document, join them (separated by `separator_id`, e.g. EOS) and
    cut the stream into blocks of `block_size` tokens. No padding, so no compute is spent on it; the
    last partial block is dropped."""

    def encode(batch):
        ids = tokenizer([str(text) for text in batch[column]], add_special_tokens=False)["input_ids"]
        return {"input_ids": [row + [separator_id] if separator_id is not None else row for row in ids]}

    def group(batch):
        stream = [token for row in batch["input_ids"] for token in row]
        usable = len(stream) // block_size * block_size
        blocks = [stream[i:i + block_size] for i in range(0, usable, block_size)]
        return {"input_ids": blocks, "attention_mask": [[1] * block_size for _ in blocks]}

    out = {}
    for name, split in splits.items():
        encoded = split.map(encode, batched=True, remove_columns=split.column_names, desc=f"tokenizing {name}")
        out[name] = encoded.map(group, batched=True, batch_size=1000, desc=f"blocks of {block_size} ({name})")
    return DatasetDict(out)


def strings_in(split) -> list[str]:
    """Every string in a split, turn contents of conversations included: what a new tokenizer learns from."""
    texts = []
    for row in split:
        for value in row.values():
            turns = value if isinstance(value, list) else [{"content": value}]
            texts += [turn["content"] for turn in turns if isinstance(turn, dict) and isinstance(turn.get("content"), str)]
    return texts
