"""Several datasets as one train split, the way alignment-handbook's `dataset_mixture` mixes them: from each
source a share of its rows drawn at random (`ds.shuffle(seed).select(range(int(len(ds) * weight)))`), the
shares joined, and the whole shuffled with the same seed. A weight above 1 takes whole copies of the source
and a draw for the rest, so a small source can be up-weighted."""

from __future__ import annotations

import json

from datasets import Dataset, concatenate_datasets

from toolkit.errors import ToolkitError
from toolkit.recipe import DataSpec, MixtureSource
from toolkit.data.sources import load_source


def taken(rows: int, weight: float) -> int:
    """How many rows a source gives: whole copies for the integer part of its weight, then a share of it."""
    copies = int(weight) if weight > 1 else 0
    return copies * rows + int(rows * (weight - copies))


def read_source(source: MixtureSource, where: str, sample_by: str) -> Dataset:
    rows = load_source(source.id, source.config, where, sample_by, source.split)
    columns = source.columns
    if columns is None:
        return rows
    wanted = list(columns)
    missing = [column for column in wanted if column not in rows.column_names]
    if missing:
        raise ToolkitError(f"{where}.columns: '{source.id}' has no column '{missing[0]}'. Columns there: "
                           f"{', '.join(rows.column_names)}.")
    rows = rows.select_columns(wanted)
    if isinstance(columns, dict):
        rows = rows.rename_columns({old: new for old, new in columns.items() if old != new})
    return rows


def draw(rows: Dataset, weight: float, seed: int) -> Dataset:
    copies = int(weight) if weight > 1 else 0
    share = rows.shuffle(seed=seed).select(range(int(len(rows) * (weight - copies))))
    return concatenate_datasets([rows] * copies + [share]) if copies else share


TAKEN: dict[str, dict] = {}  # what each mixture read in this process took, for check's output and the lineage


def key_of(spec: DataSpec, seed: int) -> str:
    return json.dumps([[vars(source) for source in spec.mixture.datasets], seed], sort_keys=True, default=str)


def taken_report(spec: DataSpec, seed: int, where: str) -> dict:
    """What the mixture took from each source: as it was read (a .txt source cut by its task's unit), or read
    now when it was not (the draw is seeded, so it is the same draw)."""
    seed = spec.mixture.seed if spec.mixture.seed is not None else seed
    if key_of(spec, seed) not in TAKEN:
        read_mixture(spec, seed, where, spec.sample_by or "line")
    return TAKEN[key_of(spec, seed)]


def read_mixture(spec: DataSpec, seed: int, where: str, sample_by: str) -> tuple[Dataset, dict]:
    """The mixed train split, and what was taken from each source (printed by check, kept in the lineage)."""
    seed = spec.mixture.seed if spec.mixture.seed is not None else seed
    parts, report = [], []
    for index, source in enumerate(spec.mixture.datasets):
        at = f"{where}.mixture.datasets[{index}]"
        rows = read_source(source, at, sample_by)
        part = draw(rows, source.weight, seed)
        if len(part) == 0:
            raise ToolkitError(f"{at}: weight {source.weight} of {len(rows)} rows takes none. Raise the weight.")
        parts.append((at, part))
        report.append({"id": source.id, "split": source.split, "rows": len(rows), "weight": source.weight,
                       "taken": len(part)})
    TAKEN[key_of(spec, seed)] = {"seed": seed, "datasets": report, "train_rows": sum(row["taken"] for row in report)}
    return joined(parts, where).shuffle(seed=seed), TAKEN[key_of(spec, seed)]


def joined(parts: list[tuple[str, Dataset]], where: str) -> Dataset:
    """The sources one after another; they must hold the same columns, of types that can be made one."""
    first_at, first = parts[0]
    for at, part in parts[1:]:
        if sorted(part.column_names) != sorted(first.column_names):
            raise ToolkitError(f"{where}.mixture: {at} has columns {', '.join(part.column_names)} and {first_at} "
                               f"has {', '.join(first.column_names)}. Give each source `columns` so they hold the "
                               f"same ones (a mapping renames: {{question: prompt}}).")
    try:
        return concatenate_datasets([part.cast(first.features) if part.features != first.features else part
                                     for _, part in parts])
    except (ValueError, TypeError) as error:
        raise ToolkitError(f"{where}.mixture: the sources' columns hold different types ({error}). Make them "
                           f"agree, e.g. labels as names in every file or as numbers in every file.") from error
