"""The order of every run, whatever its task: the output folder's plan, the task's preparation, the held-out
measurements before and after training, and the finished run folder. A task supplies its facts and its steps
(toolkit.tasks); what each step does lives in the module it names."""

from __future__ import annotations

import time

import transformers
from accelerate import PartialState

from toolkit.metrics.answers import HeldOutAnswers, change_lines
from toolkit.offline import offline_if_local
from toolkit.interrupted import continuable
from toolkit.metrics.per_example import split_off, write_all
from toolkit.plots import plot_loss
from toolkit.progress import announce, is_main_process, say, small_data_warnings
from toolkit.recipe import Recipe
from toolkit.report import write_report
from toolkit.run import (Outcome, TrainResult, held_out_rise, ranks_agree, save_model, train_loss, train_model)
from toolkit.run_folder import (LOSS_CURVE, SAMPLES_WRITTEN, check_output_dir, clear_output_dir, failing_cleanly,
                                mark_finished, plot_file, write_run_files)
from toolkit.samples import SampleCallback
from toolkit.tasks import get_task
from toolkit.threads import set_for_run
from toolkit.trainer_args import has_accelerator, lm_head_of, own_keys


def train(recipe: Recipe, pipeline: bool = False) -> TrainResult:
    """Train what the recipe describes into its output folder. Whatever ends it early leaves the folder unlocked
    (and gone, if it was only just made); Ctrl-C says how to continue (toolkit.interrupted)."""
    with failing_cleanly(recipe.output_dir), continuable(recipe, pipeline):
        return run(recipe)


def run(recipe: Recipe) -> TrainResult:
    started = time.time()
    task = get_task(recipe.task, recipe.source)
    facts = task.FACTS
    plan = check_output_dir(recipe)  # refused, or marked and locked, before anything loads
    own = own_keys(recipe, facts.defaults)
    threads = set_for_run(own.threads, on_cpu=not has_accelerator())  # the cores free now, before any model loads
    offline = offline_if_local(recipe)  # no request to the hub when the run needs nothing from it
    prepared = task.prepare(recipe)  # reads only: bad input fails here, with nothing written
    announce(described(task, prepared))
    for line in (threads, offline):
        if line:
            say(line)
    if hasattr(task, "preflight"):
        task.preflight(prepared)  # may refuse the run: before the previous run's files move aside
    clear_output_dir(recipe)  # --overwrite: the previous run's files move aside
    trainer = task.build_trainer(prepared)

    held_out = [name for name in ("validation", "test") if name in prepared.splits]
    before = measure(task, prepared, held_out, trainer, seeded=False) if facts.measured_before else {}
    answers = HeldOutAnswers.of(recipe, prepared.splits) if facts.answers else None
    if answers:
        answers.take("before", trainer, prepared.tokenizer)
    samples = SampleCallback.of(recipe, prepared.tokenizer, facts.samples) if facts.samples else None
    if samples:
        samples.attach(trainer)
    trained = train_model(trainer, plan.checkpoint, own.divergence_factor, lm_head_of(recipe, prepared.args))
    if samples:
        samples.sample_trained(trainer)
    after = measure(task, prepared, [name for name in held_out if name in recipe.eval.splits], trainer)
    if answers:
        answers.take("after", trainer, prepared.tokenizer)

    output_dir = recipe.output_dir
    save_model(trainer, prepared.tokenizer, output_dir)
    outcome = Outcome(recipe, prepared, trainer, before, after, output_dir)
    artifacts, generated = answers.write(output_dir, trainer) if answers else ({}, {})
    if trainer.is_world_process_zero():
        if facts.loss_title and plot_loss(trainer.state.log_history, plot_file(output_dir, LOSS_CURVE), facts.loss_title):
            artifacts["loss_curve"] = plot_file(output_dir, LOSS_CURVE)
        if samples and samples.save(output_dir / SAMPLES_WRITTEN):
            artifacts["samples"] = output_dir / SAMPLES_WRITTEN
        artifacts.update(task.outputs(outcome) if hasattr(task, "outputs") else {})
    metrics = {"train_loss": train_loss(trainer, trained.resumed_at), **({"before": before} if facts.measured_before else {}),
               **after, **generated, **(task.extra_metrics(outcome) if hasattr(task, "extra_metrics") else {})}
    result = finish(recipe, trainer, metrics, artifacts, started, trained.started_at)
    for line in task.summary(outcome) + change_lines(generated.get("generations")):
        say(line)
    say(f"outputs in {output_dir}/")
    return result


def described(task, prepared) -> dict:
    """What would run (the task's describe), with the warnings every task shares: printed at the start of a run
    and by `toolkit check`."""
    facts = task.describe(prepared)
    warnings = facts.get("warnings", []) + small_data_warnings(facts, prepared.recipe)
    return {**facts, **({"warnings": warnings} if warnings else {})}


def measure(task, prepared, names: list[str], trainer=None, seeded: bool = True) -> dict:
    """{split: metrics, with its per-example rows} for the named held-out splits: the numbers a run reports and
    `toolkit eval` recomputes, by one code path. Without a trainer (toolkit eval), the task's own is built.

    seeded: from the run's seed, so that a masked LM draws the same masks in a run's final numbers and in
    `toolkit eval`. The measurement before training is not reseeded: training would then draw other masks and
    dropout than a run has always drawn."""
    if trainer is None and task.FACTS.measured_by_trainer:
        trainer = task.build_trainer(prepared)
    if seeded:
        transformers.set_seed(prepared.args.seed)
    return {name: task.measure(trainer, prepared, name) for name in names}


def finish(recipe: Recipe, trainer, metrics: dict, artifacts: dict, started: float, train_started: float) -> TrainResult:
    """Write what every run leaves (per-example rows, recipe as run, metrics, log history, lineage, report pages)
    and, last, run.json: the mark of a finished run."""
    output_dir = recipe.output_dir
    artifacts = {"model": output_dir, **artifacts}
    rose = held_out_rise(metrics)
    if rose:
        metrics["held_out_loss_rose"] = rose
    rows = split_off(metrics)  # per-example evidence goes to its own files, not into metrics.json
    agree = ranks_agree(trainer) if trainer.args.world_size > 1 else True
    if is_main_process():
        artifacts.update(write_all(output_dir, rows))
        artifacts.update(write_run_files(recipe, metrics, trainer.state.log_history, trainer.args.to_json_string()))
        runtime = [row["train_runtime"] for row in trainer.state.log_history if "train_runtime" in row]
        info = {"task": recipe.task, "source": recipe.source, "world_size": trainer.args.world_size,
                "weights_identical_across_ranks": agree, "seconds": round(time.time() - started, 1),
                "setup_seconds": round(train_started - started, 2),
                "train_seconds": round(runtime[-1], 2) if runtime else None}
        artifacts.update(write_report(output_dir, info))
        info["artifacts"] = {name: str(path) for name, path in artifacts.items()}
        mark_finished(recipe, info)
    PartialState().wait_for_everyone()
    for split, values in rose.items():
        say(f"warning: the held-out loss rose {values['times']:g} times during training ({split}: {values['before']:.4g} "
            f"-> {values['after']:.4g}): the run diverged. Lower training.learning_rate, or set max_grad_norm.")
    return TrainResult(output_dir=output_dir, metrics=metrics, artifacts=artifacts)
