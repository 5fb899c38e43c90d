"""The run folder has one owner, this module: where a recipe writes, the name of every file in it, whether it
holds a finished run, writing the finished run, reading it back, and the recipe that re-evaluates it.

Its life: the folder is marked the toolkit's and locked before anything is written (toolkit.owned_folder,
toolkit.run_lock); a folder of the user's is never written into. A finished run (run.json, written last, listing
the run's files) is never trained over unless the recipe says overwrite, and even then its files are only moved
aside (to <output_dir>/.previous) until the new run finishes; an unfinished run's checkpoints are resumed
(resume: true / --resume; a broken one is passed over) or, with overwrite, cleared. Files the run did not write
are never touched."""

from __future__ import annotations

import errno
import json
import os
import shutil
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import yaml
from accelerate import PartialState

from toolkit.errors import ToolkitError
from toolkit.files import write_atomic
from toolkit.owned_folder import CREATED, MARK, claim, entries, few, is_ours, refusal_for, unwritable
from toolkit.recipe import Recipe, recipe_text
from toolkit.run_lock import HOLDER, LOCK, lock, release

FINISHED = "run.json"  # written last: its presence means the run completed
RECIPE = "recipe.yaml"  # the recipe as run, every default the toolkit filled in included
METRICS = "metrics.json"
LOG_HISTORY = "log_history.json"
LINEAGE = "lineage.json"
TRAINING_ARGS = "training_args.json"
SAMPLES_WRITTEN = "samples.jsonl"  # what the model wrote for eval.prompts at each evaluation
FILL_MASK = "fill_mask.jsonl"  # mlm's top guesses for eval.fill_mask, before and after
SAMPLES = (SAMPLES_WRITTEN, FILL_MASK)
GENERATIONS = "generations.jsonl"  # held-out answers before and after, with their scores (toolkit.metrics.answers)
MODEL_CARD = "README.md"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
CHECKPOINT_STATE = "trainer_state.json"  # the Trainer's, written last into each checkpoint
# The files of a run the toolkit names (the model's and tokenizer's files are transformers' own).
NAMED_FILES = (FINISHED, RECIPE, METRICS, LOG_HISTORY, LINEAGE, TRAINING_ARGS, *SAMPLES, GENERATIONS, MODEL_CARD,
               REPORT_MD, REPORT_HTML, CHECKPOINT_STATE)


# Plots, by name: <name>.png, or <name>_<split>.png for one held-out split.
LOSS_CURVE = "loss_curve"  # training (and evaluation) loss over the steps
RL_TRENDS = "rl_trends"  # reward, KL and completion length over an RL run
CONFUSION = "confusion"  # a classifier's confusion matrix on a split
LOSSES = "losses"  # the spread of per-example held-out losses, before and after
REWARDS = "rewards"  # the spread of per-prompt held-out rewards, before and after
MARGINS = "margins"  # the spread of per-pair reward margins, before and after


def plot_file(folder: Path, name: str, split: str | None = None) -> Path:
    return Path(folder) / (f"{name}_{split}.png" if split else f"{name}.png")


def examples_file(folder: Path, split: str, before: bool = False) -> Path:
    """One JSONL row per held-out example (toolkit.metrics.per_example), after training or before it."""
    return Path(folder) / f"examples_{split}{'_before' if before else ''}.jsonl"
PREVIOUS = ".previous"  # a replaced finished run, until its replacement finishes
INVOCATION_FLAGS = ("overwrite", "resume")  # how a run was started, not what it is: never part of re-running it


def is_finished(folder) -> bool:
    return (Path(folder) / FINISHED).is_file()


def previous_of(output_dir: Path) -> Path:
    """Where a finished run's files wait while --overwrite trains its replacement (deleted when that finishes)."""
    return Path(output_dir) / PREVIOUS


def checkpoints(output_dir: Path) -> list[Path]:
    """checkpoint-N folders, newest first."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why a checkpoint cannot be resumed from, or None. The Trainer writes trainer_state.json after the weights,
    optimizer and random states, so a folder without it was cut short while saving; a file cut by a full disk or
    a crash is caught by reading its header (safetensors) or its zip directory (torch's .pt files)."""
    state = checkpoint / CHECKPOINT_STATE
    if not state.is_file():
        return f"incomplete (no {CHECKPOINT_STATE}: cut short while saving)"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{CHECKPOINT_STATE} is not valid JSON (cut short)"
    from safetensors import SafetensorError, safe_open

    for weights in sorted(checkpoint.rglob("*.safetensors")):
        try:
            with safe_open(str(weights), "pt"):
                pass
        except (OSError, SafetensorError) as error:
            return f"{weights.relative_to(checkpoint)} is unreadable ({error})"
    for saved in sorted(checkpoint.rglob("*.pt")) + sorted(checkpoint.rglob("*.pth")) + sorted(checkpoint.rglob("*.bin")):
        if not zipfile.is_zipfile(saved):
            return f"{saved.relative_to(checkpoint)} is cut short"
    return None


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint that can be resumed from (broken ones are passed over: see resumable)."""
    checkpoint, _ = resumable(output_dir)
    return checkpoint


def resumable(output_dir: Path) -> tuple[str | None, list[str]]:
    """(the newest intact checkpoint or None, 'checkpoint-N: why' for each newer one that is broken)."""
    broken = []
    for checkpoint in checkpoints(output_dir):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return str(checkpoint), broken
        broken.append(f"{checkpoint.name}: {problem}")
    return None, broken


# What a run writes, for a folder whose run did not finish (a finished run lists its own files in run.json).
RUN_WRITES = ("checkpoint-*", "runs", "adapter", "harness", ".saving", ".*.partial*", "*.safetensors", "*.bin",
              "*.json", "*.jsonl", "*.png", "*.jinja", "vocab.txt", "merges.txt", "*.model", MODEL_CARD,
              REPORT_MD, REPORT_HTML, RECIPE)
INTERNAL = (MARK, LOCK, HOLDER, PREVIOUS)


def run_files(output_dir: Path) -> list[str]:
    """The names in a run folder that its run wrote: run.json's list (plus checkpoints and what later commands
    add), or for an unfinished run the names a run writes. Anything else in the folder is the user's."""
    output_dir = Path(output_dir)
    written = read_json(output_dir / FINISHED, {}).get("files") if is_finished(output_dir) else None
    names = [name for name in entries(output_dir) if name not in INTERNAL]
    if written is not None:
        return [name for name in names if name in written or fnmatch(name, "checkpoint-*") or name in LATER]
    return [name for name in names if any(fnmatch(name, pattern) for pattern in RUN_WRITES)]


LATER = ("harness", ".saving")  # written into a finished run by later commands (eval --harness) or a cut save


@dataclass
class FolderPlan:
    """What `train` does with a recipe's output folder. `says`: in words (toolkit check prints it); `refusal`: the
    error train raises, or None; `checkpoint`: what it resumes from; `removes`: the names it moves aside (a
    finished run, kept in .previous until the new run finishes) or deletes (an unfinished run's files)."""

    folder: Path
    says: str
    refusal: str | None = None
    checkpoint: str | None = None
    removes: list[str] = field(default_factory=list)

    def __iter__(self):  # (says, refusal, checkpoint), as the plan was once a tuple
        return iter((self.says, self.refusal, self.checkpoint))

    def __getitem__(self, index):
        return (self.says, self.refusal, self.checkpoint)[index]


def inputs_of(recipe: Recipe) -> list[str]:
    """What a run reads from disk: its output folder must never hold these."""
    data = recipe.data
    named = [recipe.source, data.train, data.validation, data.test, recipe.model.name_or_path]
    named += [source.id if hasattr(source, "id") else (source or {}).get("id") for source in
              (data.mixture.datasets if data.mixture else [])]
    if isinstance(recipe.model.tokenizer, str):
        named.append(recipe.model.tokenizer)
    return [str(item) for item in named if item and not str(item).startswith("pkg:")]


def folder_plan(recipe: Recipe) -> FolderPlan:
    """What `train` does with the recipe's output folder; reads only (but for a probe file that tests the folder
    can be written). `toolkit check` prints `says`; `train` raises `refusal`."""
    output_dir = recipe.output_dir
    refusal = refusal_for(output_dir, inputs_of(recipe), "a run") or unwritable(output_dir)
    if refusal:
        return FolderPlan(output_dir, f"train refuses {output_dir}: " + refusal.split(": ", 1)[1], refusal)
    finished = is_finished(output_dir)
    checkpoint, broken = resumable(output_dir)
    passed_over = f" (passing over {'; '.join(broken)})" if broken else ""
    removes = run_files(output_dir)
    kept = [name for name in entries(output_dir) if name not in INTERNAL and name not in removes]
    keeps = f"; it keeps {few(kept)}, which the run did not write" if kept else ""
    if finished and recipe.overwrite:
        return FolderPlan(output_dir, f"{output_dir} holds a finished run: train moves its files aside to "
                          f"{previous_of(output_dir)} until the new run finishes, then deletes them: "
                          f"{few(removes, 50)}{keeps}", removes=removes)
    if finished:
        refusal = (f"{output_dir}: already holds a finished run ({FINISHED}). Choose another "
                   f"training.output_dir, or set overwrite: true (CLI: --overwrite) to replace it.")
        return FolderPlan(output_dir, f"{output_dir} holds a finished run: train refuses it unless told --overwrite",
                          refusal)
    if recipe.resume and not recipe.overwrite:
        if checkpoint is None:
            found = f" ({'; '.join(broken)})" if broken else ": no checkpoint-* folder there"
            refusal = (f"{output_dir}: nothing to resume{found}. Checkpoints are written every training.save_steps "
                       f"steps (default 500); start over with overwrite: true (CLI: --overwrite).")
            return FolderPlan(output_dir, f"{output_dir} holds no intact checkpoint: train refuses to resume", refusal)
        return FolderPlan(output_dir, f"train continues the unfinished run in {output_dir} from "
                          f"{Path(checkpoint).name}{passed_over}", checkpoint=checkpoint)
    if (checkpoint or broken) and recipe.overwrite:
        return FolderPlan(output_dir, f"{output_dir} holds an unfinished run: train deletes its files and starts "
                          f"over: {few(removes, 50)}{keeps}", removes=removes)
    if (checkpoint or broken) and "resume_from_checkpoint" not in recipe.training:
        latest = Path(checkpoint).name if checkpoint else "none intact"
        refusal = (f"{output_dir}: holds checkpoints of a run that did not finish (latest: {latest}"
                   f"{passed_over}). Continue it with resume: true (CLI: --resume), or start over with "
                   f"overwrite: true (CLI: --overwrite).")
        return FolderPlan(output_dir, f"{output_dir} holds an unfinished run: train refuses it unless told --resume "
                          f"(continue) or --overwrite (start over)", refusal)
    return FolderPlan(output_dir, f"train writes a new run to {output_dir}")


def check_output_dir(recipe: Recipe) -> FolderPlan:
    """Refuse what would lose or mix results, before anything is loaded; then, on the process that writes, mark
    the folder the toolkit's and lock it for this run. Called by every task's train before its prepare (prepare,
    and so `toolkit check`, only reads). A --resume's checkpoint is plan.checkpoint, which train_model resumes
    from; the recipe is left as it was loaded."""
    plan = folder_plan(recipe)
    if plan.refusal:
        raise ToolkitError(plan.refusal)
    if writes_files():
        claim(plan.folder)
        lock(plan.folder)
        plan = folder_plan(recipe)  # what another run may have finished or left while this one waited
        if plan.refusal:
            release(plan.folder)
            raise ToolkitError(plan.refusal)
    USERS_FILES[plan.folder.resolve()] = {name for name in entries(plan.folder) if name not in INTERNAL} - set(
        run_files(plan.folder))
    return plan


USERS_FILES: dict[Path, set] = {}  # per folder being written by this process: what was there and is not the run's


def writes_files() -> bool:
    """Only the first process of a launch writes the run folder (torchrun sets RANK before any state exists)."""
    return os.environ.get("RANK", "0") == "0"


def clear_output_dir(recipe: Recipe) -> None:
    """Called once validation has passed, with --overwrite only: a finished run's files wait in .previous until
    the new one finishes; an unfinished run's files are deleted so they cannot mix with the new run's. Only names
    the run wrote are touched; what else is in the folder stays."""
    state = PartialState()
    output_dir = recipe.output_dir
    if state.is_main_process and recipe.overwrite and is_ours(output_dir):
        removes = run_files(output_dir)
        if is_finished(output_dir):
            previous = previous_of(output_dir)
            shutil.rmtree(previous, ignore_errors=True)
            previous.mkdir()
            for name in [FINISHED] + [name for name in removes if name != FINISHED]:  # run.json first: unfinished
                os.replace(output_dir / name, previous / name)
        else:
            for name in removes:
                remove(output_dir / name)
    state.wait_for_everyone()


def abandon(folder: Path) -> None:
    """After a run failed or was refused: unlock its folder, and remove the folder again if this process created
    it and nothing but the toolkit's own mark and lock is in it (a refused run leaves no trace)."""
    folder = Path(folder)
    release(folder)
    USERS_FILES.pop(folder.resolve(), None)
    if folder.resolve() in CREATED and set(entries(folder)) <= {MARK, LOCK, HOLDER}:
        shutil.rmtree(folder, ignore_errors=True)
        CREATED.discard(folder.resolve())


@contextmanager
def failing_cleanly(folder: Path):
    """Around a task's train: whatever ends it early leaves the folder unlocked and, if it was only just made
    and nothing was written, gone."""
    try:
        yield
    except BaseException as error:
        abandon(folder)
        full = out_of_space(error, Path(folder)) if isinstance(error, Exception) else None
        if full:
            raise ToolkitError(full) from error
        raise


FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
FULL_WORDS = ("No space left on device", "Disk quota exceeded", "os error 28")  # safetensors' and torch's writers


def out_of_space(error: BaseException, folder: Path) -> str | None:
    """The one line for a disk that filled up (or a quota hit) while a run was writing, saying where the run
    replaced by --overwrite is kept and what can be resumed; None for any other error. The writers of weights
    (safetensors, torch.save) raise their own error types with the system's words in them."""
    causes = [error]
    while causes[-1].__cause__ or causes[-1].__context__:
        causes.append(causes[-1].__cause__ or causes[-1].__context__)
    full = [e for e in causes if (isinstance(e, OSError) and e.errno in FULL) or any(w in str(e) for w in FULL_WORDS)]
    if not full:
        return None
    error = full[0]
    notes = []
    if previous_of(folder).is_dir():
        notes.append(f"The finished run it was replacing is kept in {previous_of(folder)}.")
    checkpoint = last_checkpoint(folder)
    notes.append(f"Continue from {Path(checkpoint).name} with --resume once there is room." if checkpoint else
                 "No checkpoint was saved; run it again once there is room.")
    where = getattr(error, "filename", None) or folder
    return " ".join([f"{where}: no space left on the disk to write the run. Free space there, or give "
                     f"training.output_dir on another disk."] + notes)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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
    """run.json, last: from here on the folder holds a finished run. It lists the files the run wrote, the only
    ones a later --overwrite moves; then the folder is tidied and unlocked."""
    output_dir = recipe.output_dir
    theirs = USERS_FILES.pop(output_dir.resolve(), set())
    written = [name for name in entries(output_dir)
               if name not in INTERNAL and name not in theirs and not name.startswith("checkpoint-")]
    write_atomic(output_dir / FINISHED, json.dumps({**info, "files": sorted({*written, FINISHED})}, indent=2))
    tidy_finished(recipe)
    release(output_dir)


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
        from toolkit.data.splits import mixture_taken

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


# The files of a saved model and its tokenizer, as save_pretrained names them.
MODEL_FILES = ("config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json", "*.bin",
               "tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab*", "merges.txt", "*.model",
               "chat_template.jinja")


def missing_model_files(folder) -> list[str]:
    """The model and tokenizer files a finished run wrote (run.json lists them) that are no longer there."""
    folder = Path(folder)
    written = (read_json(folder / FINISHED, {}).get("files") or []) if is_finished(folder) else []
    return [name for name in written if any(fnmatch(name, pattern) for pattern in MODEL_FILES)
            and not (folder / name).exists()]


def check_model_files(folder) -> None:
    """Refuse a finished run whose model or tokenizer files were deleted, naming them (transformers would fail on
    missing weights with its own traceback, and without tokenizer files make a tokenizer with no vocabulary)."""
    missing = missing_model_files(folder)
    if missing:
        one = len(missing) == 1
        raise ToolkitError(f"{folder}: {', '.join(missing)} {'is' if one else 'are'} missing: the run wrote "
                           f"{'it' if one else 'them'} ({FINISHED} lists its files), and {'it was' if one else 'they were'} "
                           f"deleted or moved since. Put {'it' if one else 'them'} back, or train the run again.")


KINDS = {"classifier": ("ForSequenceClassification",), "causal LM": ("ForCausalLM", "LMHeadModel"),
         "masked LM": ("ForMaskedLM",)}


def saved_config(folder, made_by: str) -> dict:
    """The config.json of a saved model folder. A folder without one is refused, naming the shipped recipe that
    writes it if one does (made_by: the runs that make the model wanted, for the message)."""
    folder = Path(folder)
    check_model_files(folder)
    if not (folder / "config.json").is_file():
        raise ToolkitError(f"{folder}: not a saved model folder (no config.json). Pass the output_dir of "
                           f"{made_by}.{shipped_writer(folder)}")
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def require_model_folder(folder, kind: str, made_by: str) -> None:
    """Refuse a folder that holds no saved model (saved_config) or a model of another kind (kind: a key of
    KINDS; made_by: the runs that make one, for the message)."""
    folder = Path(folder)
    architectures = saved_config(folder, made_by).get("architectures") or []
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
