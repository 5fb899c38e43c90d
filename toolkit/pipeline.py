"""Stages in order: a file with `pipeline: [recipe, recipe, ...]`, each stage's model being the previous
stage's output_dir. A stage whose output already holds a finished run is skipped, so a pipeline that
stopped half-way resumes at the first unfinished stage."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.recipe import load_recipe, read_yaml
from toolkit.run_folder import folder_plan, is_finished, read_run
from toolkit.progress import say
from toolkit.run import TrainResult


def is_pipeline(source) -> bool:
    if isinstance(source, dict):
        return "pipeline" in source
    if isinstance(source, (str, Path)) and str(source).endswith((".yaml", ".yml")) and Path(source).is_file():
        return "pipeline" in read_yaml(Path(source))
    return False


def stages_of(source) -> tuple[str, list]:
    where = str(source) if not isinstance(source, dict) else "<python>"
    raw = source if isinstance(source, dict) else read_yaml(Path(source))
    extra = [key for key in raw if key != "pipeline"]
    if extra:
        raise ToolkitError(f"{where}: a pipeline file holds only 'pipeline' (a list of recipes); found '{extra[0]}'.")
    stages = raw["pipeline"]
    if not isinstance(stages, list) or not stages:
        raise ToolkitError(f"{where}: 'pipeline' must be a non-empty list of recipe paths.")
    return where, stages


def load_stages(source, overrides=None) -> list:
    """Every stage's recipe, its keys and training fields checked, before any stage runs (so a typo in
    stage 3 fails before stage 1 trains). Later stages' models may not exist yet: those load when run."""
    from toolkit.trainer_args import split_training
    from toolkit.tasks import config_class, get_task

    where, stages = stages_of(source)
    recipes = []
    for i, stage in enumerate(stages, 1):
        if not isinstance(stage, (str, dict)):
            raise ToolkitError(f"{where}: pipeline stage {i} must be a recipe path or a recipe mapping.")
        recipe = load_recipe(stage, overrides)  # as given: the text says which booleans were words (no, off)
        task = get_task(recipe.task, recipe.source)
        split_training(recipe.training, config_class(task, recipe), f"{recipe.source}: training")
        recipes.append(recipe)
    return recipes


def check_pipeline(source, overrides=None) -> list[dict]:
    """What each stage would do. A stage whose model an earlier stage writes is checked as far as it can
    be without that model; a finished stage is reported as skipped."""
    from toolkit.tasks import get_task
    from toolkit.training import described

    facts, outputs = [], set()
    for recipe in load_stages(source, overrides):
        model = recipe.model.name_or_path
        if is_finished(recipe.output_dir) and not recipe.overwrite:
            facts.append({"recipe": recipe.source, "task": recipe.task, "skipped": f"{recipe.output_dir} is finished"})
        elif model and Path(model).resolve() in outputs and not is_finished(model):
            facts.append({"recipe": recipe.source, "task": recipe.task, "model": f"{model} (from an earlier stage)"})
        else:
            task = get_task(recipe.task, recipe.source)
            facts.append({"recipe": recipe.source, **described(task, task.prepare(recipe)),
                          "output": folder_plan(recipe)[0]})
        outputs.add(recipe.output_dir.resolve())
    return facts


def run_pipeline(source, overrides=None) -> list[TrainResult]:
    from toolkit.training import train

    recipes = load_stages(source, overrides)
    results = []
    for i, recipe in enumerate(recipes, 1):
        output_dir = recipe.output_dir  # the rule check_pipeline and train follow
        say(f"\n=== stage {i}/{len(recipes)}: {recipe.task} ({recipe.source})")
        if is_finished(output_dir) and not recipe.overwrite:
            say(f"skipped: {output_dir} already holds a finished run")
            metrics = read_run(output_dir).metrics
            results.append(TrainResult(output_dir=output_dir, metrics=metrics, artifacts={"model": output_dir}))
            continue
        results.append(train(recipe, pipeline=True))
    return results
