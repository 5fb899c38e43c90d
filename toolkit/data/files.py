"""Which data files a local path holds and the format each is read in: a file by its suffix, a folder of files
by the hub's rules (datasets' own data-files patterns), so a folder here reads as `load_dataset(folder)` reads it
on the hub, or is refused where that reading would drop files without a word.

The hub's rules: split names come from file or folder names (train.jsonl, test-00000-of-00001.parquet,
data/validation/part-0.csv; "dev", "valid" and "val" name validation); a folder whose names name no split is one
"train" split of all its files. The hub reads one format per folder and silently leaves files of the others out:
here a folder of mixed formats is refused instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.data.token_shards import is_shard_folder

# The datasets builder that reads each file suffix; .tsv is csv with a tab delimiter.
BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".txt": "text"}
FORMAT_NAMES = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".txt": "txt"}
SPLIT_NAMES = {"valid": "validation"}  # the shard pattern (data/valid-00000-of-00001.jsonl) keeps a file's own word
SHOWN = 4  # files named in a message before "and N more"


@dataclass
class FolderFiles:
    """A folder's data files by split, as the hub finds them."""

    folder: Path
    splits: dict[str, list[Path]]  # split -> its data files, in datasets' order
    named: bool  # split names came from file or folder names; false: every file is the one "train" split
    suffix: str  # the format of every data file (".jsonl" for json and jsonl alike)
    unread: list[Path] = field(default_factory=list)  # files the hub leaves out: no data suffix, or no split's name

    @property
    def builder(self) -> str:
        return BUILDERS[self.suffix]

    def names(self, files: list[Path]) -> str:
        shown = [str(path.relative_to(self.folder)) for path in files[:SHOWN]]
        return ", ".join(shown) + (f" and {len(files) - SHOWN} more" if len(files) > SHOWN else "")

    def split_list(self) -> str:
        parts = [f"{name} ({self.names(files)})" for name, files in self.splits.items()]
        return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]

    def description(self, split: str | None = None) -> str:
        """How the folder is read, for `toolkit check` and the run's announcement."""
        splits = {split: self.splits[split]} if split else self.splits
        read = "; ".join(f"{name}: {self.names(files)}" for name, files in splits.items())
        how = "split names from file names" if self.named else "no split named in file names, so all one split"
        unread = f"; not read: {self.names(self.unread)}" if self.unread else ""
        return f"as the hub reads a folder ({how}), {FORMAT_NAMES[self.suffix]}: {read}{unread}"


def is_saved_dataset(folder: Path) -> bool:
    """A save_to_disk folder: a Dataset's state file, or a DatasetDict's list of splits."""
    return (folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file()


def is_files_folder(path: Path) -> bool:
    """A folder read by the hub's rules here: not a save_to_disk folder, token shards, or one whose card lists
    its own files (datasets reads those)."""
    return path.is_dir() and not is_saved_dataset(path) and not is_shard_folder(path) and not has_card_configs(path)


def folder_readings(spec, where: str) -> dict[str, str]:
    """How each folder of data files the recipe names (data.name, train, validation, test) is read: the facts
    `toolkit check` prints and a run announces, so a folder's reading is never a guess."""
    from toolkit.data.paths import local_path

    readings = {}
    for key in ("name", "train", "validation", "test"):
        value = getattr(spec, key, None)
        path = (Path(value) if key == "name" else local_path(value, f"{where}.{key}")) if value else None
        if path is not None and is_files_folder(path):
            readings[f"data.{key}"] = folder_files(path, f"{where}.{key}").description()
    return readings


def has_card_configs(folder: Path) -> bool:
    """A dataset card that lists its own data files (README.md's `configs`, or .huggingface.yaml): the hub reads
    what it lists, so datasets is left to read such a folder itself."""
    if (folder / ".huggingface.yaml").is_file():
        return True
    readme = folder / "README.md"
    if not readme.is_file():
        return False
    from huggingface_hub import DatasetCard

    try:
        return bool(DatasetCard.load(readme).data.to_dict().get("configs"))
    except Exception:  # a README that is no card: the hub reads the files by name, as here
        return False


def folder_files(folder: Path, where: str) -> FolderFiles:
    """The folder's data files by split, by datasets' own pattern rules; refused when it holds none, or files of
    more than one format (the hub would read the most common format and drop the rest)."""
    from datasets.data_files import DataFilesDict, EmptyDatasetError, get_data_patterns

    base = folder.resolve()
    try:
        patterns = get_data_patterns(str(base))
    except (EmptyDatasetError, FileNotFoundError) as error:
        raise ToolkitError(f"{where}: folder '{folder}' holds no data files. Put {', '.join(BUILDERS)} files in "
                           f"it, or point to a file.") from error
    resolved = DataFilesDict.from_patterns(patterns, base_path=str(base))
    named = {str(name): list(globs) for name, globs in patterns.items()} != {"train": ["**"]}

    def as_given(path) -> Path:  # shown under the folder as the recipe names it, not its resolved place
        return folder / Path(path).relative_to(base)

    every = sorted({as_given(path) for files in resolved.values() for path in files} | set(visible_files(folder)))
    splits = {SPLIT_NAMES.get(str(name), str(name)): [as_given(path) for path in files
                                                      if Path(path).suffix.lower() in BUILDERS]
              for name, files in resolved.items()}
    splits = {name: files for name, files in splits.items() if files}
    read = {path for files in splits.values() for path in files}
    located = FolderFiles(folder, splits, named, "", [path for path in every if path not in read])
    if not splits:
        raise ToolkitError(f"{where}: folder '{folder}' holds no data files ({', '.join(BUILDERS)}); it has "
                           f"{located.names(every) or 'nothing'}.")
    by_format: dict[str, list[Path]] = {}
    for path in sorted(read):
        by_format.setdefault(format_of(path), []).append(path)
    if len(by_format) > 1:
        listed = "; ".join(f"{FORMAT_NAMES[suffix]}: {located.names(files)}" for suffix, files in by_format.items())
        raise ToolkitError(f"{where}: folder '{folder}' holds files of more than one format ({listed}). The hub "
                           f"reads a folder in one format and leaves the other files out, so here it is refused: "
                           f"convert them to one format, or give each file on its own (several train files: "
                           f"data.mixture).")
    located.suffix = next(iter(by_format))
    return located


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return ".jsonl" if suffix == ".json" else suffix


def visible_files(folder: Path) -> list[Path]:
    """Every file under the folder but hidden ones (.git, .cache, __pycache__), which the hub skips too."""
    return [path for path in folder.rglob("*") if path.is_file() and
            not any(part.startswith((".", "__")) for part in path.relative_to(folder).parts)]


def split_files(located: FolderFiles, given_as: str | None, split: str, where: str) -> dict[str, list[str]]:
    """The data_files to read: as data.<given_as>, the folder must be that one split (a folder of several splits
    there would lose all but one); otherwise (a mixture source, data.name) the split named by `split`."""
    folder = located.folder
    if given_as is None:
        name = split.split("[")[0]
        if name not in located.splits:
            raise ToolkitError(f"{where}: folder '{folder}' has no split '{name}'; by its file names it has "
                               f"{located.split_list()}.")
        return {name: [str(path) for path in located.splits[name]]}
    if located.named and len(located.splits) > 1:
        single = all(len(files) == 1 for files in located.splits.values()) and set(located.splits) <= {
            "train", "validation", "test"}
        each = ", ".join(f"data.{name}: {files[0]}" for name, files in located.splits.items()) if single else ""
        raise ToolkitError(f"{where}: folder '{folder}' holds the splits {located.split_list()} (named by their "
                           f"files, as the hub reads a folder), and as data.{given_as} only one of them would be "
                           f"read. Give {'each split its own file (' + each + '), or ' if each else ''}the whole "
                           f"folder as data.name: {folder} (every split read by its name).")
    (name, files), = located.splits.items()
    if located.named and name != given_as:
        raise ToolkitError(f"{where}: folder '{folder}' holds split {located.split_list()} by its file names, and "
                           f"is given as data.{given_as}. Give it as data.{name}, or rename the files.")
    return {"train": [str(path) for path in files]}
