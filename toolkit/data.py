"""Data for every task: local files or a hub dataset -> a DatasetDict with train/validation/test."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from toolkit.errors import ToolkitError
from toolkit.paths import local_path
from toolkit.recipe import DataSpec, Recipe

BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet",
            ".txt": "text"}
SPLITS = ("train", "validation", "test")
# What one document of a .txt file is, by datasets' text builder's own `sample_by` names.
TXT_UNITS = {"document": "each .txt file is one document",
             "paragraph": "each blank-line-separated paragraph of a .txt file is one document",
             "line": "each line of a .txt file is one document"}


def load_file(spec: str, where: str, sample_by: str = "line") -> Dataset:
    """One local file (or save_to_disk folder) as rows; a .txt file is cut into documents by `sample_by`."""
    path = local_path(spec, where)
    if path is None:
        raise ToolkitError(f"{where}: data file '{spec}' not found. Give a local file here, or a hub "
                           f"dataset id under data.name.")
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError as error:
            raise ToolkitError(f"{where}: folder '{path}' is not a dataset saved with save_to_disk.") from error
        return loaded["train"] if isinstance(loaded, DatasetDict) else loaded
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ToolkitError(f"{where}: cannot read '{path.name}': use one of {', '.join(sorted(BUILDERS))}.")
    if path.stat().st_size == 0:
        raise ToolkitError(f"{where}: '{path}' is empty.")
    options = {".tsv": {"delimiter": "\t"}, ".txt": {"sample_by": sample_by}}.get(path.suffix.lower(), {})
    datasets.disable_progress_bars()  # a local file loads in a blink; keep the output for what matters
    try:
        rows = datasets.load_dataset(builder, data_files=str(path), split="train", **options)
        return without_blank_documents(rows, path, where) if builder == "text" else rows
    except ToolkitError:
        raise
    except Exception as error:  # the builders raise many types; the user needs the file and the cause
        while error.__cause__ is not None or error.__context__ is not None:  # the reader's own words
            error = error.__cause__ or error.__context__
        cause = " ".join(str(error).split()) or type(error).__name__
        if "corresponds to no data" in cause:
            raise ToolkitError(f"{where}: '{path}' has no rows (a header alone?). Add data or drop the "
                               f"file from the recipe.") from error
        raise ToolkitError(f"{where}: could not read '{path}' as {builder}: "
                           f"{first_bad_place(path, builder) or cause}") from error
    finally:
        datasets.enable_progress_bars()


def without_blank_documents(rows: Dataset, path: Path, where: str) -> Dataset:
    """A blank line (or a whitespace-only paragraph) is no document: kept, it would become an EOS-only one."""
    kept = [index for index, text in enumerate(rows["text"]) if text.strip()]
    if not kept:
        raise ToolkitError(f"{where}: '{path}' holds only blank lines. Add text or drop the file from the recipe.")
    return rows if len(kept) == len(rows) else rows.select(kept)


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
                           f"{error}). Without a network, download it first or use local files.") from error
    if "validation" not in loaded and "valid" in loaded:
        loaded["validation"] = loaded.pop("valid")
    return loaded


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
    return any(str(getattr(spec, name) or "").lower().endswith(".txt") for name in SPLITS)


def read_splits(recipe: Recipe, txt_default: str = "line") -> DatasetDict:
    """The splits as the recipe's files (or hub dataset) hold them; .txt files cut into documents by
    data.sample_by, else by `txt_default` (datasets' own default is a line)."""
    spec, where = recipe.data, f"{recipe.source}: data"
    unit = txt_unit(spec, txt_default, where)
    if spec.name:
        splits = load_hub(spec, where)
        for name in (s for s in SPLITS if getattr(spec, s)):
            splits[name] = load_file(getattr(spec, name), f"{where}.{name}", unit)
    else:
        splits = DatasetDict({name: load_file(getattr(spec, name), f"{where}.{name}", unit)
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
    return SplitPlan(wanted, shuffle, seed, given, documents=len(splits["train"]))


def carve_splits(splits: DatasetDict, spec: DataSpec, seed: int, where: str) -> DatasetDict:
    plan = plan_split(splits, spec, seed, where)
    return DatasetDict({**splits, **plan.carve(splits["train"])}) if plan.shares else splits


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


def read_lm_splits(recipe: Recipe, txt_default: str) -> tuple[DatasetDict, SplitPlan]:
    """pretrain / mlm: the documents of each split, and how the held-out splits are made.

    Whole documents are carved when train has enough to give every held-out split at least one (and keep
    one); with fewer (one story.txt read as one document) no row split can work, so the plan carves
    train's token blocks instead, once tokenized (lm_blocks): validation and test are then contiguous
    parts of the text, the last parts of it when data.split.shuffle is false.
    """
    where = f"{recipe.source}: data"
    splits = read_splits(recipe, txt_default)
    require_columns(splits, {"text_column": recipe.data.text_column}, where)
    plan = plan_split(splits, recipe.data, recipe.training.get("seed", 42), where)
    if plan.shares and not carves_every_split(len(splits["train"]), plan.shares):
        plan.unit = "blocks"
    return finish_splits(splits, recipe, carve=plan.unit == "rows"), plan


def lm_blocks(splits: DatasetDict, plan: SplitPlan, tokenizer, column: str, block_size: int,
              separator_id: int | None, where: str) -> tuple[DatasetDict, dict[str, int]]:
    """Token blocks per split (validation/test carved from train's blocks when the plan says so), and how
    many documents each split holds text of."""
    spanned = spanned_blocks(splits, tokenizer, column, block_size, separator_id)
    if plan.unit == "blocks":
        if not carves_every_split(len(spanned["train"]), plan.shares):
            raise ToolkitError(f"{where}.split: train holds {len(spanned['train'])} blocks of {block_size} tokens, too "
                               f"few to carve {', '.join(plan.shares)} ({plan.shares}) from. Give it more text, "
                               f"lower data.max_length, or lower the fractions.")
        plan.blocks = len(spanned["train"])
        spanned = DatasetDict({**spanned, **plan.carve(spanned["train"])})
    documents = {name: documents_spanned(list(split[SPAN])) for name, split in spanned.items()}
    return DatasetDict({name: split.remove_columns(SPAN) for name, split in spanned.items()}), documents


SPAN = "document_span"  # per block: [first, last] row of its split whose tokens it holds


def spanned_blocks(splits: DatasetDict, tokenizer, column: str, block_size: int,
                   separator_id: int | None) -> DatasetDict:
    """Tokenize each document, join them (each followed by `separator_id`, e.g. EOS) and cut the stream
    into blocks of `block_size` tokens, each with the span of documents it holds (SPAN). No padding, so no
    compute is spent on it; the last partial block of every 1,000 documents is dropped."""

    def encode(batch):
        texts = [str(text) if text is not None and str(text).strip() else "" for text in batch[column]]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        # a blank document adds nothing: a lone separator would teach the model to end a text it never began
        return {"input_ids": [row + [separator_id] if row and separator_id is not None else row for row in ids]}

    def group(batch, indices):
        stream = [token for row in batch["input_ids"] for token in row]
        ends = list(itertools.accumulate(len(row) for row in batch["input_ids"]))  # where each document ends

        def document_at(position: int) -> int:
            return indices[bisect.bisect_right(ends, position)]

        starts = range(0, len(stream) // block_size * block_size, block_size)
        return {"input_ids": [stream[start:start + block_size] for start in starts],
                "attention_mask": [[1] * block_size for _ in starts],
                SPAN: [[document_at(start), document_at(start + block_size - 1)] for start in starts]}

    out = {}
    for name, split in splits.items():
        encoded = split.map(encode, batched=True, remove_columns=split.column_names, desc=f"tokenizing {name}")
        out[name] = encoded.map(group, batched=True, batch_size=1000, with_indices=True,
                                desc=f"blocks of {block_size} ({name})")
    return DatasetDict(out)


def text_blocks(splits: DatasetDict, tokenizer, column: str, block_size: int, separator_id: int | None) -> DatasetDict:
    """Language-model data: blocks of `block_size` tokens from the joined documents (see spanned_blocks)."""
    blocks = spanned_blocks(splits, tokenizer, column, block_size, separator_id)
    return DatasetDict({name: split.remove_columns(SPAN) for name, split in blocks.items()})


def documents_spanned(spans: list[list[int]]) -> int:
    """How many documents a set of blocks holds text of: the size of the union of their [first, last]
    document ranges (a document can fill many blocks, a block hold many documents)."""
    count, reach = 0, -1
    for first, last in sorted(spans):
        first = max(first, reach + 1)
        if last >= first:
            count += last - first + 1
            reach = last
    return count


def txt_reading(spec: DataSpec, task_default: str) -> str | None:
    """What one document of a .txt file is, and who chose it, for `toolkit check`; None without .txt files."""
    if not reads_txt(spec):
        return None
    unit = spec.sample_by or task_default
    chosen = "from data.sample_by" if spec.sample_by else "the task default"
    dropped = "" if unit == "document" else ", blank ones dropped"
    return f"{TXT_UNITS[unit]}{dropped} (sample_by {unit}, {chosen})"


def strings_in(split) -> list[str]:
    """Every string in a split, turn contents of conversations included: what a new tokenizer learns from."""
    texts = []
    for row in split:
        for value in row.values():
            turns = value if isinstance(value, list) else [{"content": value}]
            texts += [turn["content"] for turn in turns if isinstance(turn, dict) and isinstance(turn.get("content"), str)]
    return texts
