"""Reading one source of rows: a local file (or save_to_disk folder), or a hub dataset."""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from toolkit.errors import ToolkitError
from toolkit.paths import local_path
from toolkit.token_shards import is_shard_folder, read_shards

BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet",
            ".txt": "text"}


def load_file(spec: str, where: str, sample_by: str = "line", split: str = "train", streaming: bool = False):
    """One local file (or save_to_disk folder) as rows; a .txt file is cut into documents by `sample_by`.
    split: a file's rows are its "train" split, which may be sliced ("train[:100]"); a folder's split by name.
    streaming: an IterableDataset, read as it is iterated (a blank .txt document is then skipped as read)."""
    path = local_path(spec, where)
    if path is None:
        raise ToolkitError(f"{where}: data file '{spec}' not found. Give a local file here, or a hub "
                           f"dataset id under data.name.")
    if is_shard_folder(path):
        return read_shards(path, streaming)
    if path.is_dir() and not is_saved_dataset(path):  # a dataset repository's files, as the hub lays them out
        return load_hub(str(path), None, where, split=split, streaming=streaming)
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if streaming:
            loaded = loaded.to_iterable_dataset() if isinstance(loaded, Dataset) else DatasetDict(
                {name: part.to_iterable_dataset() for name, part in loaded.items()})
        if isinstance(loaded, DatasetDict):
            if split not in loaded:
                raise ToolkitError(f"{where}: folder '{path}' has no split '{split}'; it has {', '.join(loaded)}.")
            return loaded[split]
        if split != "train":
            raise ToolkitError(f"{where}: folder '{path}' holds one dataset, not split '{split}'. Drop the split.")
        return loaded
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ToolkitError(f"{where}: cannot read '{path.name}': use one of {', '.join(sorted(BUILDERS))}.")
    if path.stat().st_size == 0:
        raise ToolkitError(f"{where}: '{path}' is empty.")
    options = {".tsv": {"delimiter": "\t"}, ".txt": {"sample_by": sample_by}}.get(path.suffix.lower(), {})
    datasets.disable_progress_bars()  # a local file loads in a blink; keep the output for what matters
    try:
        rows = datasets.load_dataset(builder, data_files=str(path), split=split, streaming=streaming, **options)
        if builder == "text":
            return rows.filter(lambda row: bool(row["text"].strip())) if streaming else \
                without_blank_documents(rows, path, where)
        return rows
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


def is_saved_dataset(folder: Path) -> bool:
    """A save_to_disk folder: a Dataset's state file, or a DatasetDict's list of splits."""
    return (folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file()


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


def load_hub(name: str, config: str | None, where: str, split: str | None = None, streaming: bool = False):
    """A hub dataset's splits (a DatasetDict, "valid" named "validation"), or the one `split` asked for."""
    try:
        loaded = datasets.load_dataset(name, config, split=split, streaming=streaming)
    except Exception as error:
        if Path(name).is_dir():
            raise ToolkitError(f"{where}: could not read folder '{name}' ({type(error).__name__}: {error}). A folder "
                               f"is read as a save_to_disk dataset, or as a dataset repository's data files "
                               f"(json, csv, parquet, txt).") from error
        raise ToolkitError(f"{where}: could not load hub dataset '{name}' ({type(error).__name__}: "
                           f"{error}). Without a network, download it first or use local files.") from error
    if split is None and "validation" not in loaded and "valid" in loaded:
        loaded["validation"] = loaded.pop("valid")
    return loaded


def load_source(spec: str, config: str | None, where: str, sample_by: str = "line", split: str = "train") -> Dataset:
    """A local file or folder if `spec` names one, else the hub dataset `spec` (its `config`, its `split`)."""
    if local_path(spec, where) is None:
        return load_hub(spec, config, where, split=split)
    if config:
        raise ToolkitError(f"{where}: config '{config}' is for hub datasets, and '{spec}' is a local file. Drop it.")
    return load_file(spec, where, sample_by, split)
