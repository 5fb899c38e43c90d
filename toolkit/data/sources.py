"""Reading one source of rows: a local file (or save_to_disk folder, or folder of data files), or a hub dataset."""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from toolkit.data.files import BUILDERS, folder_files, has_card_configs, is_saved_dataset, split_files
from toolkit.errors import ToolkitError, not_utf8
from toolkit.data.paths import local_path
from toolkit.data.token_shards import is_shard_folder, read_shards


def load_file(spec: str, where: str, sample_by: str = "line", split: str = "train", streaming: bool = False,
              given_as: str | None = None):
    """One local file (or save_to_disk folder, or folder of data files) as rows; a .txt file is cut into documents
    by `sample_by`.
    split: a file's rows are its "train" split, which may be sliced ("train[:100]"); a folder's split by name.
    given_as: the recipe's split this path stands for (data.validation: "validation"): a folder of data files
    there must hold that one split (toolkit.data.files).
    streaming: an IterableDataset, read as it is iterated (a blank .txt document is then skipped as read)."""
    path = local_path(spec, where)
    if path is None:
        raise ToolkitError(f"{where}: data file '{spec}' not found. Give a local file here, or a hub "
                           f"dataset id under data.name.")
    if is_shard_folder(path):
        return read_shards(path, streaming)
    if path.is_dir() and not is_saved_dataset(path):  # a dataset repository's files, as the hub lays them out
        return load_folder(path, where, sample_by, split, streaming, given_as)
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
    return read_rows({"train": [str(path)]}, path.suffix.lower(), split, streaming, sample_by, where, path)


def load_folder(folder: Path, where: str, sample_by: str, split: str | None, streaming: bool,
                given_as: str | None = None):
    """A folder of data files read by the hub's rules (toolkit.data.files): as data.<given_as>, its one split;
    else the split named `split`, or every split (a DatasetDict) when `split` is None."""
    if has_card_configs(folder):  # its card says which files are which: datasets reads it as the hub does
        return load_hub(str(folder), None, where, split=split, streaming=streaming)
    located = folder_files(folder, where)
    if split is None and given_as is None:
        return DatasetDict({name: read_rows({name: [str(path) for path in files]}, located.suffix, name, streaming,
                                            sample_by, where, folder) for name, files in located.splits.items()})
    files = split_files(located, given_as, split or "train", where)
    return read_rows(files, located.suffix, split if given_as is None else "train", streaming, sample_by, where,
                     folder)


def read_rows(files: dict[str, list[str]], suffix: str, split: str, streaming: bool, sample_by: str, where: str,
              source: Path):
    """The rows of data files of one format (`suffix`), through datasets' builder for it; `source` (the file
    or folder the recipe names) for messages. Any failure is one line naming the file and, where it can be
    found, the line."""
    builder = BUILDERS[suffix]
    options = {".tsv": {"delimiter": "\t"}, ".txt": {"sample_by": sample_by}}.get(suffix, {})
    datasets.disable_progress_bars()  # a local file loads in a blink; keep the output for what matters
    # The builders log their own "Failed to read" line before raising: ours says it once (--debug shows theirs).
    before = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        rows = datasets.load_dataset(builder, data_files=files, split=split, streaming=streaming, **options)
        if builder == "json" and not streaming:
            rows.data.table.validate(full=True)  # pyarrow's JSON reader keeps bytes that are not UTF-8 as read
        if builder == "text":
            return rows.filter(lambda row: bool(row["text"].strip())) if streaming else \
                without_blank_documents(rows, source, where)
        return rows
    except ToolkitError:
        raise
    except Exception as error:  # the builders raise many types; the user needs the file and the cause
        while error.__cause__ is not None or error.__context__ is not None:  # the reader's own words
            error = error.__cause__ or error.__context__
        cause = " ".join(str(error).split()) or type(error).__name__
        if "corresponds to no data" in cause:
            raise ToolkitError(f"{where}: '{source}' has no rows (a header alone?). Add data or drop the "
                               f"file from the recipe.") from error
        for path in (Path(name) for part in files.values() for name in part):  # the first bad one, named
            place = first_bad_place(path, builder)
            if place:
                raise ToolkitError(f"{where}: could not read '{path}' as {builder}: {place}") from error
        raise ToolkitError(f"{where}: could not read '{source}' as {builder}: {cause}") from error
    finally:
        datasets.enable_progress_bars()
        datasets.logging.set_verbosity(before)


def without_blank_documents(rows: Dataset, path: Path, where: str) -> Dataset:
    """A blank line (or a whitespace-only paragraph) is no document: kept, it would become an EOS-only one."""
    kept = [index for index, text in enumerate(rows["text"]) if text.strip()]
    if not kept:
        raise ToolkitError(f"{where}: '{path}' holds only blank lines. Add text or drop the file from the recipe.")
    return rows if len(kept) == len(rows) else rows.select(kept)


def first_bad_place(path: Path, builder: str) -> str | None:
    """Where a file that failed to load goes wrong, found by reading it again line by line (only after a
    failure, so a good file is read once): bytes that are not UTF-8, or the first .jsonl line that is not JSON,
    not an object, or an object with a key twice."""
    import json

    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return not_utf8(raw, error, lines_before=number - 1)
            if builder == "json" and path.suffix.lower() == ".jsonl" and line.strip():
                try:
                    row = json.loads(line, object_pairs_hook=keys_once)
                except json.JSONDecodeError as error:
                    return f"line {number} is not valid JSON ({error.msg} at column {error.colno}); fix or drop it"
                except RepeatedJsonKey as repeated:
                    return f"line {number} has key '{repeated}' twice; keep one"
                if not isinstance(row, dict):
                    return (f"line {number} is not a JSON object but {JSON_KINDS.get(type(row), 'a value')}; each "
                            f"line is one row, {{\"column\": value, ...}}")
    return None


JSON_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false",
              type(None): "null"}


class RepeatedJsonKey(ValueError):
    """A JSON object with a key twice: json keeps the last, pyarrow refuses the line without its number."""


def keys_once(pairs: list) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise RepeatedJsonKey(key)
        seen[key] = value
    return seen


def load_hub(name: str, config: str | None, where: str, split: str | None = None, streaming: bool = False,
             sample_by: str = "line"):
    """A hub dataset's splits (a DatasetDict, "valid" named "validation"), or the one `split` asked for. A local
    folder of data files is read by the hub's rules (toolkit.data.files), each split by its file names."""
    folder = Path(name)
    if folder.is_dir() and not is_saved_dataset(folder) and not has_card_configs(folder):
        return load_folder(folder, where, sample_by, split, streaming)
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
