"""The run folder has one owner, this module: where a recipe writes, the name of every file in it, whether it
holds a finished run, writing the finished run, reading it back, and the recipe that re-evaluates it.

Its life: a finished run (run.json, written last) is never trained over unless the recipe says overwrite, and
even then it is only moved aside (to <output_dir>.previous) until the new run finishes; an unfinished run's
checkpoints are resumed (resume: true / --resume) or, with overwrite, cleared."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from accelerate import PartialState

from toolkit.errors import ToolkitError
from toolkit.files import write_atomic
from toolkit.recipe import Recipe, recipe_text

FINISHED = "run.json"  # written last: its presence means the run completed
RECIPE = "recipe.yaml"  # the recipe as run, every default the toolkit filled in included
METRICS = "metrics.json"
LOG_HISTORY = "log_history.json"
LINEAGE = "lineage.json"
TRAINING_ARGS = "training_args.json"
SAMPLES = ("samples.jsonl", "fill_mask.jsonl")  # what the model wrote at each evaluation
INVOCATION_FLAGS = ("overwrite", "resume")  # how a run was started, not what it is: never part of re-running it


def default_output_dir(recipe: Recipe) -> str:
    name = Path(recipe.source).stem if recipe.source.endswith((".yaml", ".yml")) else recipe.task
    return str(Path("runs") / name)


def output_dir_of(recipe: Recipe) -> Path:
    """Where a recipe writes: training.output_dir, else runs/<recipe file name> (runs/<task> from Python)."""
    return Path(recipe.training.get("output_dir") or default_output_dir(recipe))


def is_finished(folder) -> bool:
    return (Path(folder) / FINISHED).is_file()


def previous_of(output_dir: Path) -> Path:
    return output_dir.with_name(output_dir.name + ".previous")


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete checkpoint: the Trainer writes trainer_state.json after the weights, optimizer
    and RNG states, so a folder without it was cut short by a crash while saving."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    complete = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                and (p / "trainer_state.json").is_file()]
    return str(max(complete, key=lambda p: int(p.name.split("-")[-1]))) if complete else None


def folder_plan(recipe: Recipe) -> tuple[str, str | None, str | None]:
    """What `train` does with the recipe's output folder: (what it does, in words; the refusal, or None;
    the checkpoint it resumes from, or None). `toolkit check` prints the first; `train` raises the second."""
    output_dir = output_dir_of(recipe)
    finished = is_finished(output_dir)
    checkpoint = last_checkpoint(output_dir)
    if finished and recipe.overwrite:
        return f"{output_dir} holds a finished run: train replaces it (kept until the new run finishes)", None, None
    if finished:
        refusal = (f"{output_dir}: already holds a finished run ({FINISHED}). Choose another "
                   f"training.output_dir, or set overwrite: true (CLI: --overwrite) to replace it.")
        return f"{output_dir} holds a finished run: train refuses it unless told --overwrite", refusal, None
    if recipe.resume and not recipe.overwrite:
        if checkpoint is None:
            refusal = (f"{output_dir}: nothing to resume: no checkpoint-* folder there. Checkpoints are "
                       f"written every training.save_steps steps (default 500).")
            return f"{output_dir} holds no checkpoint: train refuses to resume", refusal, None
        return f"train continues the unfinished run in {output_dir} from {Path(checkpoint).name}", None, checkpoint
    if checkpoint and recipe.overwrite:
        return f"{output_dir} holds an unfinished run: train clears it and starts over", None, None
    if checkpoint and "resume_from_checkpoint" not in recipe.training:
        refusal = (f"{output_dir}: holds checkpoints of a run that did not finish (latest: "
                   f"{Path(checkpoint).name}). Continue it with resume: true (CLI: --resume), or start "
                   f"over with overwrite: true (CLI: --overwrite).")
        return (f"{output_dir} holds an unfinished run: train refuses it unless told --resume (continue) or "
                f"--overwrite (start over)"), refusal, None
    return f"train writes a new run to {output_dir}", None, None


def check_output_dir(recipe: Recipe) -> None:
    """Refuse what would lose or mix results, before anything is loaded; resolve --resume to a checkpoint.
    Called by every task's train before its prepare (prepare, and so `toolkit check`, only reads)."""
    _, refusal, checkpoint = folder_plan(recipe)
    if refusal:
        raise ToolkitError(refusal)
    if checkpoint:
        recipe.training = {**recipe.training, "resume_from_checkpoint": checkpoint}


def clear_output_dir(recipe: Recipe) -> None:
    """Called once validation has passed. Overwriting a finished run moves it aside until the new one
    finishes; an unfinished one's checkpoints are removed so they cannot mix with the new run's."""
    state = PartialState()
    output_dir = recipe.output_dir
    if state.is_main_process and recipe.overwrite and output_dir.exists():
        if (output_dir / FINISHED).exists():
            shutil.rmtree(previous_of(output_dir), ignore_errors=True)
            output_dir.rename(previous_of(output_dir))
        else:
            shutil.rmtree(output_dir)
    state.wait_for_everyone()


def tidy_finished(recipe: Recipe) -> None:
    """Once run.json is written: the replaced run goes, and so do the checkpoints (kept for resuming only),
    unless the recipe chose its own save_strategy."""
    output_dir = recipe.output_dir
    shutil.rmtree(previous_of(output_dir), ignore_errors=True)
    if "save_strategy" not in recipe.training:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)


def write_run_files(recipe: Recipe, metrics: dict, log_history: list, training_args: str) -> dict[str, Path]:
    """Everything a finished run leaves but run.json and the report; returns the paths by artifact name."""
    output_dir = recipe.output_dir
    named = {"recipe": output_dir / RECIPE, "metrics": output_dir / METRICS,
             "log_history": output_dir / LOG_HISTORY, "lineage": output_dir / LINEAGE}
    write_atomic(named["recipe"], recipe_text(recipe))
    write_atomic(named["metrics"], json.dumps(metrics, indent=2))
    write_atomic(named["log_history"], json.dumps(log_history, indent=1))
    write_atomic(named["lineage"], json.dumps(lineage(recipe), indent=2))
    write_atomic(output_dir / TRAINING_ARGS, training_args)
    return named


def mark_finished(recipe: Recipe, info: dict) -> None:
    """run.json, last: from here on the folder holds a finished run."""
    write_atomic(recipe.output_dir / FINISHED, json.dumps(info, indent=2))
    tidy_finished(recipe)


def lineage(recipe: Recipe) -> dict:
    """Which model and data produced this folder; a model that is itself a run folder brings its own."""
    spec = recipe.model
    parent = None
    if spec.name_or_path and (Path(spec.name_or_path) / LINEAGE).is_file():
        parent = json.loads((Path(spec.name_or_path) / LINEAGE).read_text(encoding="utf-8"))
    data = {split: getattr(recipe.data, split) for split in ("train", "validation", "test") if getattr(recipe.data, split)}
    if recipe.data.name:
        data["name"] = recipe.data.name
    if recipe.data.mixture:
        from toolkit.data import mixture_taken

        data["mixture"] = mixture_taken(recipe)
    facts = {"task": recipe.task, "recipe": recipe.source, "output_dir": str(recipe.output_dir),
             "model": spec.name_or_path or f"new {spec.architecture} from config {spec.config}",
             "data": data, "parent": parent}
    if recipe.rl and recipe.rl.rewards:
        facts["rewards"] = recipe.rl.rewards  # reward model folders and checkers the policy was optimised against
    return facts


@dataclass
class Run:
    """A finished run folder, read back."""

    folder: Path
    info: dict
    recipe: dict
    metrics: dict
    lineage: dict
    plots: list[Path] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)

    @property
    def task(self) -> str:
        return self.info.get("task") or self.recipe.get("task", "")


def read_json(path: Path, default):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def read_run(folder, info: dict | None = None) -> Run:
    """info: run.json's content, for a run being finished (its run.json is written after the report)."""
    folder = Path(folder)
    if info is None and not is_finished(folder):
        raise ToolkitError(f"{folder}: not a finished run (no {FINISHED}). Give the output_dir of a run that "
                           f"completed.{shipped_writer(folder)}")
    recipe_file = folder / RECIPE
    recipe = yaml.safe_load(recipe_file.read_text(encoding="utf-8")) if recipe_file.is_file() else {}
    samples = []
    for name in SAMPLES:
        if (folder / name).is_file():
            samples += [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines() if line]
    return Run(folder, info if info is not None else read_json(folder / FINISHED, {}), recipe or {},
               read_json(folder / METRICS, {}), read_json(folder / LINEAGE, {}), sorted(folder.glob("*.png")), samples)


def recipe_for_evaluation(folder: Path, data: str | None, output_dir: str) -> tuple[dict, dict]:
    """(the recipe that re-evaluates a finished run, the run's starting model spec): the recipe as run, with
    the model pointed at the run folder, nothing trained or resumed, and no invocation flags. `data`
    evaluates another file instead, held out as 'test' (train must name a file too; it is read, not
    trained on)."""
    raw = read_run(folder).recipe
    if not raw:
        raise ToolkitError(f"{folder}: no {RECIPE}; evaluation re-reads the data the way the run did.")
    start = dict(raw["model"])
    raw["model"] = {"name_or_path": str(folder), "dtype": start.get("dtype"),
                    "attn_implementation": start.get("attn_implementation")}
    raw["peft"] = None  # the saved model has any adapter merged in
    training = {key: value for key, value in raw.get("training", {}).items() if key != "resume_from_checkpoint"}
    raw["training"] = {**training, "output_dir": output_dir, "report_to": "none", "eval_strategy": "no"}
    for flag in INVOCATION_FLAGS:
        raw[flag] = False
    if raw["task"] == "classification":
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        raw["data"]["labels"] = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        raw["data"]["num_labels"] = None
    if data:
        raw["data"].update(train=data, validation=None, test=data, name=None, mixture=None, limit=None,
                           split={"validation": 0.0, "test": 0.0})
        if not data.lower().endswith(".txt"):
            raw["data"]["sample_by"] = None  # how the run read its .txt files; the new file is not one
    return raw, start


KINDS = {"classifier": ("ForSequenceClassification",), "causal LM": ("ForCausalLM", "LMHeadModel"),
         "masked LM": ("ForMaskedLM",)}


def require_model_folder(folder, kind: str, made_by: str) -> None:
    """Refuse a folder that holds no saved model (naming the shipped recipe that writes it, if one does) or a
    model of another kind (kind: a key of KINDS; made_by: the runs that make one, for the message)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ToolkitError(f"{folder}: not a saved model folder (no config.json). Pass the output_dir of "
                           f"{made_by}.{shipped_writer(folder)}")
    architectures = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    if not any(name.endswith(KINDS[kind]) for name in architectures):
        raise ToolkitError(f"{folder}: holds a {', '.join(architectures) or 'model of unknown kind'}, not a "
                           f"{kind}. Pass the output_dir of {made_by}.")


def shipped_writer(folder) -> str:
    """' toolkit train recipes/<...>.yaml writes it.' when a recipe under ./recipes (a checkout's) has this
    folder as its output_dir, with the pipelines that run that recipe; '' otherwise."""
    recipes = Path("recipes")
    if not recipes.is_dir():
        return ""
    target, writers, pipelines = Path(folder).resolve(), [], []
    for path in sorted(recipes.rglob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and "task" in raw:
            output = (raw.get("training") or {}).get("output_dir") or str(Path("runs") / path.stem)
            if Path(output).resolve() == target:
                writers.append(path)
        elif isinstance(raw, dict) and isinstance(raw.get("pipeline"), list):
            pipelines.append((path, {Path(str(stage)).resolve() for stage in raw["pipeline"]}))
    if not writers:
        return ""
    also = [str(path) for path, stages in pipelines if any(w.resolve() in stages for w in writers)]
    return (f" `toolkit train {writers[0]}` writes it" + (f" (so does the pipeline {', '.join(also)})" if also else "")
            + ".")
