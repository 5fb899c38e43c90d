"""Pretraining corpus cleaning: the datatrove steps of toolkit.data.corpus_steps (language, quality, exact and near
duplicates), run on a list of texts. With data.clean's tasks and workers at 1 the steps run in this process,
one after the other on the documents; otherwise datatrove's LocalPipelineExecutor runs them (toolkit.data.corpus_run)
in a temporary folder. Each step reports how many documents it removed and why.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from datasets import DatasetDict

from toolkit.errors import ToolkitError
from toolkit.recipe import CleanSpec


def clean_corpus(texts: list[str], spec: CleanSpec | None = None, where: str = "clean") -> tuple[list[bool], list[dict]]:
    """Which documents to keep, and a report row per step: {"step", "removed", "reasons"}.

    Duplicates keep the first occurrence, so pass splits in order (train first) to drop evaluation
    documents that copy training ones.
    """
    spec = spec or CleanSpec()
    if spec.tasks < 1 or spec.workers < 1:
        raise ToolkitError(f"{where}: tasks and workers must be at least 1 (got {spec.tasks} and {spec.workers}).")
    if spec.tasks == 1 and spec.workers == 1:
        return clean_in_process([str(text) for text in texts], spec, where)
    return clean_with_executor([str(text) for text in texts], spec, where)


def clean_in_process(texts: list[str], spec: CleanSpec, where: str) -> tuple[list[bool], list[dict]]:
    """The steps chained as datatrove chains them inside one task: each consumes the previous one's documents."""
    from datatrove.data import Document

    from toolkit.data.corpus_steps import dedup_steps, filter_steps, report_row

    steps = filter_steps(spec, where) + dedup_steps(spec)
    documents = iter([Document(text=text, id=str(index)) for index, text in enumerate(texts)])
    for _, step in steps:
        documents = step.run(documents)
    kept = {int(document.id) for document in documents}
    return [index in kept for index in range(len(texts))], [report_row(name, step.stats.to_dict()["stats"])
                                                            for name, step in steps]


def clean_with_executor(texts: list[str], spec: CleanSpec, where: str) -> tuple[list[bool], list[dict]]:
    from toolkit.data.corpus_run import build_executors, kept_rows, read_report, run_local, write_shards

    with tempfile.TemporaryDirectory(prefix="toolkit-clean-") as folder:
        folder = Path(folder)
        write_shards([("documents", row, text) for row, text in enumerate(texts)], folder, spec, "text")
        run_local(*build_executors(spec, folder, "text", where), folder)
        kept = set(kept_rows(folder, "documents"))
        return [row in kept for row in range(len(texts))], read_report(folder, spec, "text", where)["steps"]


def clean_splits(splits: DatasetDict, column: str, spec: CleanSpec | None, where: str) -> tuple[DatasetDict, dict]:
    """Clean every split in one pass (train first, so later splits lose copies of training documents)."""
    if spec is None:
        return splits, {}
    names = list(splits)
    texts, owner = [], []
    for name in names:
        texts += list(splits[name][column])
        owner += [name] * len(splits[name])
    keep, report = clean_corpus(texts, spec, f"{where}: data.clean")
    cleaned, offset = {}, 0
    for name in names:
        size = len(splits[name])
        cleaned[name] = splits[name].select([i for i in range(size) if keep[offset + i]])
        offset += size
        if len(cleaned[name]) == 0:
            raise ToolkitError(f"{where}: data.clean removed every document of split '{name}' "
                               f"(steps: {report}). Loosen the filters under data.clean.")
    summary = {"documents_in": len(texts), "documents_kept": sum(keep), "steps": report}
    return DatasetDict(cleaned), summary


def prepare_corpus(texts: list[str], **options) -> tuple[list[str], dict]:
    """Notebook form: clean a list of documents. Options are CleanSpec's fields; returns (kept, report)."""
    from toolkit.schema import build

    spec = build(CleanSpec, options, "prepare_corpus")
    keep, report = clean_corpus(list(texts), spec)
    return [t for t, k in zip(texts, keep, strict=True) if k], {"documents_in": len(texts), "documents_kept": sum(keep),
                                                   "steps": report}



def prepare_corpus_files(recipe, output: Path, executor: str = "local", slurm: dict | None = None) -> dict:
    """Clean the recipe's corpus files (train, then validation and test when given; data.text_column) with
    data.clean's steps (the defaults when the recipe has none) under a datatrove executor, into `output`
    (toolkit.data.corpus_run lists what it holds). Returns the report, also written to report.json; with the slurm
    executor, until the jobs have finished, what was submitted."""
    import json

    from toolkit.data.corpus_run import build_executors, is_finished, read_report, run_local, write_shards
    from toolkit.data.splits import read_splits, require_columns

    where, column = f"{recipe.source}: data", recipe.data.text_column
    spec = recipe.data.clean or CleanSpec()
    if spec.tasks < 1 or spec.workers < 1:
        raise ToolkitError(f"{where}.clean: tasks and workers must be at least 1 (got {spec.tasks} and {spec.workers}).")
    splits = read_splits(recipe, "document")  # as pretraining reads a .txt file: whole, unless data.sample_by
    require_columns(splits, {"text_column": column}, where)
    documents = [(name, row, str(text)) for name, split in splits.items() for row, text in enumerate(split[column])]
    executors = build_executors(spec, output, column, f"{where}.clean", executor, slurm)
    write_shards(documents, output, spec, column)
    if executor == "local":
        run_local(*executors, output)
    else:
        executors[1].run()  # submits stage 1's job array first: stage 2 depends on it
        if not is_finished(output, spec):
            return {"submitted": {"filter": executors[0].job_id, "dedup": executors[1].job_id},
                    "output": str(output), "report": "run the same command again once the jobs finish"}
    report = {**read_report(output, spec, column, f"{where}.clean"), "output": str(output)}
    (output / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report
