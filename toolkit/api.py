"""The functions a notebook calls; the CLI calls exactly these. The façade: no module of the toolkit imports
it (tests/test_layout.py); using a saved model lives in toolkit.inference (one call) and toolkit.loaded
(toolkit.load: loaded once), which tasks may use."""

from __future__ import annotations

from pathlib import Path

from toolkit.inference import fill_mask, generate, predict, score
from toolkit.loaded import load
from toolkit.recipe import Recipe, load_recipe
from toolkit.run import TrainResult
from toolkit.tasks import get_task

__all__ = ["train", "check", "init", "predict", "generate", "fill_mask", "score", "load", "evaluate", "report", "compare",
           "prepare_corpus_files", "tokenize", "judge_runs", "harness"]


def train(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None,
          **kwargs) -> TrainResult | list[TrainResult]:
    """Train what the recipe describes and write it to training.output_dir.

    recipe: a YAML path, a dict in the same form, or a Recipe. A pipeline file (`pipeline: [...]`) runs
    its stages in order and returns one result per stage.
    overrides: dotted keys, e.g. {"training.learning_rate": 1e-4} or ["training.learning_rate=1e-4"];
    keyword arguments work too, with "__" for the dots: train(path, training__learning_rate=1e-4).
    Returns the metrics, the output folder and the paths of what was saved. Interrupted (Ctrl-C), it raises
    toolkit.interrupted.Interrupted, a KeyboardInterrupt that says which checkpoint continues the run.
    """
    from toolkit.pipeline import is_pipeline, run_pipeline
    from toolkit.training import train as run

    if is_pipeline(recipe):
        return run_pipeline(recipe, _merge(overrides, kwargs))
    return run(load_recipe(recipe, _merge(overrides, kwargs)))


def check(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None, show: int = 0,
          preflight: bool = False, **kwargs) -> dict | list:
    """Validate everything `train` would (recipe, data, labels, model) and say what would run, without training
    and without writing anything: `output` says what train would do with the output folder (write a new run,
    refuse a finished one, replace it with overwrite, continue it with resume). For a pipeline file: a list,
    one entry per stage.

    show: also return the first `show` training examples as the trainer will see them (`examples`: each one's
    tokens, which of them carry loss, what max_length cut; toolkit.trained_view.render prints one).
    preflight: also run the task's preflight as a run would (rlhf: the reward preflight, toolkit.rl_preflight),
    its figures under `preflight`; a run it would refuse raises its ToolkitError here too."""
    from toolkit.pipeline import check_pipeline, is_pipeline

    if is_pipeline(recipe):
        return check_pipeline(recipe, _merge(overrides, kwargs))
    from toolkit.trainer_args import chosen_settings

    from toolkit.offline import offline_if_local
    from toolkit.run_folder import folder_plan
    from toolkit.training import described

    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    task = get_task(loaded.task, loaded.source)
    plan = folder_plan(loaded)[0]  # read-only: what train would do with the folder, never a refusal here
    offline = offline_if_local(loaded)
    prepared = task.prepare(loaded)
    facts = {**described(task, prepared), "output": plan, **({"hub": offline} if offline else {}),
             "settings": chosen_settings(prepared.args, loaded, task.FACTS.fused_lm_head)}
    if preflight:
        if not hasattr(task, "preflight"):
            from toolkit.errors import ToolkitError

            raise ToolkitError(f"{loaded.source}: --preflight samples and scores rewards for rlhf recipes; task "
                               f"'{loaded.task}' has no preflight.")
        facts["preflight"] = task.preflight(prepared) or "off (rl.preflight)"
    if show:
        if not hasattr(task, "examples"):
            from toolkit.errors import ToolkitError

            raise ToolkitError(f"{loaded.source}: --show prints examples for classification, sft and dpo; task "
                               f"'{loaded.task}' does not have it yet.")
        from toolkit.trained_view import as_dict

        facts["examples"] = [as_dict(example, prepared.tokenizer) for example in task.examples(prepared, show)]
    return facts


def init(task: str, data: str | Path, output: str | Path, model: str | None = None) -> Path:
    """Write a starter recipe for `task` fitted to the data file (toolkit.starter): columns found, labels counted,
    held-out splits that can measure, epochs / batch / learning rate for its size, each choice commented. `output`
    must not exist yet. Returns its path; `check` it, then `train` it."""
    from toolkit.starter import write_starter

    return write_starter(task, str(data), str(output), model)


def harness(run_dir: str | Path, tasks: list[str], include: str | Path | None = None, limit: int | None = None,
            trust_remote_code: bool = False) -> dict:
    """EleutherAI's lm-eval tasks on a finished run's model, when lm-eval is installed ({task: metrics}; every
    scored sample in run_dir/harness/). `include`: a folder of task YAML files (offline: tasks over local files).
    trust_remote_code: let the model folder run its own code (auto_map); off, such a folder is refused."""
    from toolkit.lm_harness import run_harness

    return run_harness(run_dir, tasks, include, limit, trust_remote_code=trust_remote_code)


def evaluate(run_dir: str | Path, data: str | Path | None = None, splits: list[str] | None = None,
             per_example: bool = False, trust_remote_code: bool = False) -> dict:
    """A finished run's held-out metrics, recomputed from its saved model with its task's own metric code
    ({split: metrics}); `data` evaluates another file in the recipe's columns instead ({"data": metrics}).
    per_example: also return each split's per-example rows (the values the metrics are counted from).
    trust_remote_code: let the saved model run code it ships (auto_map); off, such a folder is refused."""
    from toolkit.evaluation import evaluate as evaluate_run

    return evaluate_run(run_dir, str(data) if data else None, splits, per_example, trust_remote_code)


def report(run_dir: str | Path) -> dict[str, Path]:
    """Rebuild a run's model card (README.md), report.md and report.html from the files it wrote."""
    from toolkit.report import write_report

    return write_report(run_dir)


def compare(first: str | Path, second: str | Path, output: str | Path | None = None,
            judge: str | dict | None = None, trust_remote_code: bool = False) -> Path:
    """One HTML page with two runs side by side: metrics, recipe differences, plots. judge: a reward run's
    folder or a causal LM that scores both runs' answers to the same held-out prompts (or what `judge_runs`
    returned); the page then shows the first run's win rate, with a 95% interval, and every prompt's answers."""
    from toolkit.report import compare_runs

    judged = judge_runs(first, second, judge, trust_remote_code) if isinstance(judge, str) else judge
    return compare_runs(first, second, Path(output) if output else None, judged)


def judge_runs(first: str | Path, second: str | Path, judge: str, trust_remote_code: bool = False) -> dict:
    """The first run's win rate over the second on the same held-out prompts, as `judge` scores their answers
    (toolkit.metrics.judge): win_rate, low and high (95% bootstrap interval), wins, ties, losses, and every row.
    trust_remote_code: let the judge's folder run its own code (auto_map); off, such a folder is refused."""
    from toolkit.metrics.judge import judge_runs as judged

    return judged(Path(first), Path(second), judge, trust_remote_code)


def prepare_corpus_files(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None,
                         output: str | Path | None = None, executor: str = "local", tasks: int | None = None,
                         workers: int | None = None, slurm: dict | None = None, tokenize: bool = False) -> dict:
    """Clean the recipe's corpus files with the steps of data.clean (its defaults when the recipe has none) as a
    datatrove pipeline: LocalPipelineExecutor, or executor="slurm" with slurm={"partition": ..., "time": ...,
    plus cpus_per_task, mem_per_cpu_gb, job_name, qos, venv_path, env_command, sbatch_args}.

    output: the folder (default: training.output_dir + "-corpus"); it receives <split>.jsonl of kept documents
    (the recipe's text column, ready for a recipe's data.train), datatrove's logs and report.json. tasks and
    workers override data.clean's. A rerun skips the tasks that completed. Returns the report: documents in and
    kept, per split too, and each step's removals. tokenize: end by writing the kept documents' token shards in
    OUTPUT/tokens, as `tokenize` would from a recipe reading the kept files (pretrain and mlm recipes).
    """
    import dataclasses

    from toolkit.data.corpus import prepare_corpus_files as prepare
    from toolkit.owned_folder import claim, require_ours
    from toolkit.progress import quiet_stderr
    from toolkit.recipe import CleanSpec

    loaded = load_recipe(recipe, overrides)
    settings = {key: value for key, value in (("tasks", tasks), ("workers", workers)) if value is not None}
    # read whole: every document goes into datatrove's input shards once (a training stream is read many times)
    loaded.data = dataclasses.replace(loaded.data, streaming=False,
                                      clean=dataclasses.replace(loaded.data.clean or CleanSpec(), **settings))
    folder = Path(output).expanduser() if output else Path(str(loaded.output_dir) + "-corpus")
    # a rerun continues in its own folder; a folder of the user's (their corpus, say) is never written into
    require_ours(folder, "a prepared corpus", [loaded.source, loaded.data.train, loaded.data.validation,
                                               loaded.data.test])
    separator = tokenizing_separator(loaded) if tokenize else None
    claim(folder)
    with quiet_stderr(folder / "logs" / "datatrove.log"):  # datatrove's logs: with --verbose, or in that file
        report = prepare(loaded, folder, executor, slurm)
    if tokenize and "submitted" not in report:
        from toolkit.tasks.language_models import tokenize_corpus

        kept = {name: str(folder / f"{name}.jsonl") for name in ("train", "validation", "test")
                if (folder / f"{name}.jsonl").is_file()}
        cleaned = dataclasses.replace(loaded, data=dataclasses.replace(loaded.data, clean=None, mixture=None,
                                                                       name=None, **kept))
        report["tokens"] = tokenize_corpus(cleaned, folder / "tokens", separator, overwrite=True)
    return report


def tokenize(recipe: str | Path | dict | Recipe, output: str | Path, overrides: list[str] | dict | None = None,
             overwrite: bool = False, **kwargs) -> dict:
    """Tokenize a pretrain or mlm recipe's corpus once into token shards in `output` (toolkit.data.token_shards):
    the blocks training would cut, and the tokenizer. A recipe with data.train: OUTPUT/train and
    model.tokenizer: OUTPUT/tokenizer then trains on them without tokenizing again. Returns what was written."""
    from toolkit.tasks.language_models import tokenize_corpus

    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    return tokenize_corpus(loaded, Path(output), tokenizing_separator(loaded), overwrite)


def tokenizing_separator(recipe: Recipe) -> str:
    """The token that ends each document in a task's blocks; only tasks that train on blocks have one."""
    from toolkit.errors import ToolkitError

    separator = get_task(recipe.task, recipe.source).FACTS.separator
    if separator is None:
        raise ToolkitError(f"{recipe.source}: token shards are blocks for pretrain and mlm; this recipe's task is "
                           f"{recipe.task}.")
    return separator


def _merge(overrides, kwargs) -> dict | list | None:
    if not kwargs:
        return overrides
    from toolkit.recipe import parse_overrides

    merged = parse_overrides(overrides)
    merged.update({key.replace("__", "."): value for key, value in kwargs.items()})
    return merged
