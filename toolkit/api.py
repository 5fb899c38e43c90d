"""The functions a notebook calls; the CLI calls exactly these."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe, load_recipe
from toolkit.run import TrainResult
from toolkit.tasks import get_task


def train(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None, **kwargs) -> TrainResult:
    """Train what the recipe describes and write it to training.output_dir.

    recipe: a YAML path, a dict in the same form, or a Recipe.
    overrides: dotted keys, e.g. {"training.learning_rate": 1e-4} or ["training.learning_rate=1e-4"];
    keyword arguments work too, with "__" for the dots: train(path, training__learning_rate=1e-4).
    Returns the metrics, the output folder and the paths of what was saved.
    """
    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    return get_task(loaded.task, loaded.source).train(loaded)


def check(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None, **kwargs) -> dict:
    """Validate everything `train` would (recipe, data, labels, model) and say what would run, without training."""
    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    task = get_task(loaded.task, loaded.source)
    return task.describe(task.prepare(loaded))


def predict(model_dir: str | Path, texts: list[str] | str, batch_size: int = 32) -> list[dict]:
    """Label and score for each text, from a saved classification folder: [{"label": ..., "score": ...}]."""
    from transformers import AutoConfig, pipeline

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ToolkitError(f"{model_dir}: not a saved model folder (no config.json). Pass the output_dir of a "
                           f"classification run.")
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    if not any(name.endswith("ForSequenceClassification") for name in config.architectures or []):
        raise ToolkitError(f"{model_dir}: holds a {config.architectures} model, not a classifier.")
    classifier = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir))
    single = isinstance(texts, str)
    outputs = classifier([texts] if single else list(texts), batch_size=batch_size, truncation=True)
    return outputs[0] if single else outputs


def _merge(overrides, kwargs) -> dict | list | None:
    if not kwargs:
        return overrides
    from toolkit.recipe import parse_overrides

    merged = parse_overrides(overrides)
    merged.update({key.replace("__", "."): value for key, value in kwargs.items()})
    return merged
