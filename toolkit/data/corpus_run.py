"""Corpus cleaning under datatrove's executors, in two stages:

1. filter (tasks=N, run W at a time): datatrove's JSONL reader over N contiguous input shards → empty →
   language → quality filters → a JSONL writer of the survivors, one file per task;
2. dedup (one task, after stage 1): the survivors read back in corpus order (shard k holds documents before
   shard k+1's) → exact and near duplicates, first occurrence kept → one JSONL file of kept documents per
   split.

Duplicates are global, so they wait for every shard; the per-document steps, the costly ones, run in
parallel. Each stage keeps datatrove's logging folder (logs/, stats/, completions/): a rerun skips the tasks
that completed, and the report sums the per-task stats, so it counts every task whichever run did it.

The folder:
    input/NNNNN.jsonl         the corpus in N shards: text, id (place in the corpus), split, row (in its split)
    manifest.json             what the shards hold; a rerun with other documents or settings is refused
    filtered/NNNNN.jsonl.gz   stage 1's survivors
    <split>.jsonl             kept documents: {<text column>: text, "source_row": row in the split's file}
    logs/filter, logs/dedup   datatrove's logging folders
    report.json               documents in and kept (per split too) and each step's removals
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections import Counter
from functools import partial
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from loguru import logger

from toolkit.data.corpus_steps import dedup_steps, filter_steps, report_row, total
from toolkit.errors import ToolkitError
from toolkit.recipe import CleanSpec

STAGES = ("filter", "dedup")
SLURM_OPTIONS = ("partition", "time", "cpus_per_task", "mem_per_cpu_gb", "job_name", "qos", "venv_path",
                 "env_command", "sbatch_args")


class ShardReader(JsonlReader):
    """datatrove's JSONL reader, keeping documents without text (its default skips them) so that the empty step
    counts them as the in-process path does."""

    def get_document_from_dict(self, data, source_file, id_in_file):
        return Document(**self.adapter(data, source_file, id_in_file))


def kept_record(writer, document, column: str) -> dict:
    return {column: document.text, "source_row": document.metadata["row"]}


def pipelines(spec: CleanSpec, folder: Path, column: str, where: str) -> tuple[list, list]:
    """The two stages' pipelines: a reader, the cleaning steps, a writer."""
    filters, dedups = filter_steps(spec, where), dedup_steps(spec)
    first = [ShardReader(str(folder / "input"), add_file_path=False), *(step for _, step in filters),
             JsonlWriter(str(folder / "filtered"), output_filename="${rank}.jsonl.gz")]
    logger.disable("datatrove.pipeline.writers")  # one task writes each split's file: no ${rank} needed, no warning
    kept = JsonlWriter(str(folder), output_filename="${split}.jsonl", compression=None,
                       adapter=partial(kept_record, column=column))
    logger.enable("datatrove.pipeline.writers")
    second = [JsonlReader(str(folder / "filtered"), add_file_path=False), *(step for _, step in dedups), kept]
    return first, second


def write_shards(documents: list[tuple[str, int, str]], folder: Path, spec: CleanSpec, column: str) -> None:
    """(split, row, text) documents into spec.tasks contiguous shards, once: a rerun finds them by the manifest,
    and refuses a folder prepared from other documents or with other settings (its finished tasks would not
    match)."""
    settings = {**dataclasses.asdict(spec), "workers": None}  # how many run at once changes no result
    digest = hashlib.sha1(json.dumps([settings, column]).encode())
    for document in documents:
        digest.update(json.dumps(document).encode())
    manifest = {"documents": len(documents), "splits": dict(Counter(split for split, _, _ in documents)),
                "tasks": spec.tasks, "fingerprint": digest.hexdigest()}
    path = folder / "manifest.json"
    if path.exists():
        if json.loads(path.read_text(encoding="utf-8")) != manifest:
            raise ToolkitError(f"{folder} holds a corpus prepared from other documents or with other cleaning "
                               f"settings (tasks included). Choose another output folder, or delete this one.")
        return
    (folder / "input").mkdir(parents=True, exist_ok=True)
    for task in range(spec.tasks):
        start, end = task * len(documents) // spec.tasks, (task + 1) * len(documents) // spec.tasks
        with (folder / "input" / f"{task:05d}.jsonl").open("w", encoding="utf-8") as shard:
            for index in range(start, end):
                split, row, text = documents[index]
                shard.write(json.dumps({"text": text, "id": str(index), "split": split, "row": row}) + "\n")
    path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")  # last: shards complete


def build_executors(spec: CleanSpec, folder: Path, column: str, where: str, executor: str = "local",
                    slurm: dict | None = None) -> tuple:
    """The filter and dedup stages as datatrove executors (LocalPipelineExecutor, or SlurmPipelineExecutor with
    `slurm`: partition and time required, and cpus_per_task, mem_per_cpu_gb, job_name, qos, venv_path,
    env_command, sbatch_args as datatrove names them). Workers is how many tasks run at once."""
    first, second = pipelines(spec, folder, column, where)
    logs = folder / "logs"
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        return (LocalPipelineExecutor(first, tasks=spec.tasks, workers=spec.workers, logging_dir=str(logs / "filter")),
                LocalPipelineExecutor(second, tasks=1, workers=1, logging_dir=str(logs / "dedup")))
    if executor != "slurm":
        raise ToolkitError(f"{where}: executor '{executor}' is not one of local, slurm.")
    from datatrove.executor import SlurmPipelineExecutor

    options = dict(slurm or {})
    unknown = sorted(set(options) - set(SLURM_OPTIONS))
    missing = [name for name in ("partition", "time") if not options.get(name)]
    if unknown or missing:
        raise ToolkitError(f"{where}: the slurm executor needs partition and time"
                           f"{f' (missing: {missing})' if missing else ''}; it takes {', '.join(SLURM_OPTIONS)}"
                           f"{f' (unknown: {unknown})' if unknown else ''}.")
    if not options.get("venv_path") and not options.get("env_command") and sys.prefix != sys.base_prefix:
        options["venv_path"] = str(Path(sys.prefix) / "bin" / "activate")  # the jobs run this environment's toolkit
    name = options.pop("job_name", "corpus")
    filtering = SlurmPipelineExecutor(first, tasks=spec.tasks, workers=spec.workers, job_name=f"{name}-filter",
                                      logging_dir=str(logs / "filter"), **options)
    dedup = SlurmPipelineExecutor(second, tasks=1, job_name=f"{name}-dedup", logging_dir=str(logs / "dedup"),
                                  depends=filtering, **options)
    return filtering, dedup


def run_local(filtering, dedup, folder: Path) -> None:
    """Stage 1, then stage 2 once every stage-1 task has completed (in this run or an earlier one)."""
    filtering.run()
    if filtering.get_incomplete_ranks():
        raise ToolkitError(f"{folder}: filter tasks {filtering.get_incomplete_ranks()} did not complete; see "
                           f"{folder / 'logs' / 'filter' / 'logs'}.")
    if not any((folder / "filtered").glob("*.jsonl.gz")):
        raise ToolkitError(f"{folder}: the filters removed every document. Loosen the cleaning settings.")
    dedup.run()


def is_finished(folder: Path, spec: CleanSpec) -> bool:
    done = [len(list((folder / "logs" / stage / "completions").glob("*"))) if (folder / "logs" / stage).exists() else 0
            for stage in STAGES]
    return done == [spec.tasks, 1]


def read_report(folder: Path, spec: CleanSpec, column: str, where: str) -> dict:
    """Documents in and kept (per split too) and each step's removals, summed over every task's saved stats."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    filter_names, dedup_names = [name for name, _ in filter_steps(spec, where)], [name for name, _ in dedup_steps(spec)]
    steps = []
    for stage, names in zip(STAGES, (filter_names, dedup_names), strict=True):
        sums = [Counter() for _ in names]
        for path in sorted((folder / "logs" / stage / "stats").glob("*.json")):
            blocks = json.loads(path.read_text(encoding="utf-8"))
            for position, block in enumerate(blocks[1:len(names) + 1]):  # after the reader, before the writer
                for key, value in block["stats"].items():
                    sums[position][key] += total(value)
        steps += [report_row(name, dict(counts)) for name, counts in zip(names, sums, strict=True)]
    splits = {split: {"documents_in": count, "documents_kept": kept_count(folder / f"{split}.jsonl")}
              for split, count in manifest["splits"].items()}
    return {"documents_in": manifest["documents"], "documents_kept": sum(s["documents_kept"] for s in splits.values()),
            "splits": splits, "steps": steps}


def kept_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def kept_rows(folder: Path, split: str) -> list[int]:
    path = folder / f"{split}.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["source_row"] for line in handle]
