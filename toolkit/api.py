"""The functions a notebook calls; the CLI calls exactly these."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe, load_recipe
from toolkit.run import TrainResult
from toolkit.tasks import get_task


def train(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None,
          **kwargs) -> TrainResult | list[TrainResult]:
    """Train what the recipe describes and write it to training.output_dir.

    recipe: a YAML path, a dict in the same form, or a Recipe. A pipeline file (`pipeline: [...]`) runs
    its stages in order and returns one result per stage.
    overrides: dotted keys, e.g. {"training.learning_rate": 1e-4} or ["training.learning_rate=1e-4"];
    keyword arguments work too, with "__" for the dots: train(path, training__learning_rate=1e-4).
    Returns the metrics, the output folder and the paths of what was saved.
    """
    from toolkit.pipeline import is_pipeline, run_pipeline

    if is_pipeline(recipe):
        return run_pipeline(recipe, _merge(overrides, kwargs))
    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    return get_task(loaded.task, loaded.source).train(loaded)


def check(recipe: str | Path | dict | Recipe, overrides: list[str] | dict | None = None, **kwargs) -> dict | list:
    """Validate everything `train` would (recipe, data, labels, model) and say what would run, without training.
    For a pipeline file: a list, one entry per stage."""
    from toolkit.pipeline import check_pipeline, is_pipeline

    if is_pipeline(recipe):
        return check_pipeline(recipe, _merge(overrides, kwargs))
    from toolkit.run import chosen_settings

    loaded = load_recipe(recipe, _merge(overrides, kwargs))
    task = get_task(loaded.task, loaded.source)
    prepared = task.prepare(loaded)
    return {**task.describe(prepared), "settings": chosen_settings(prepared.args, loaded)}


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


def generate(model_dir: str | Path, prompts: list[str] | str, max_new_tokens: int = 64, temperature: float = 0.0,
             top_p: float = 1.0, chat: bool | None = None, seed: int = 0) -> list[str] | str:
    """Text from a saved pretrain/SFT folder. Chat models get their template (each prompt is a user turn)
    and stop at the end-of-turn token. temperature 0 is greedy decoding."""
    from toolkit.generation import generate as run

    return run(model_dir, prompts, max_new_tokens, temperature, top_p, chat, seed)


def fill_mask(model_dir: str | Path, texts: list[str] | str, top_k: int = 5) -> list[list[dict]] | list[dict]:
    """Top-k tokens for the [MASK] in each text, from a saved mlm folder: [{"token", "score"}, ...]."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from toolkit.tasks.mlm import fill_mask_with

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ToolkitError(f"{model_dir}: not a saved model folder (no config.json). Pass the output_dir of an "
                           f"mlm run.")
    model = AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    single = isinstance(texts, str)
    outputs = fill_mask_with(model, tokenizer, [texts] if single else list(texts), top_k)
    return outputs[0] if single else outputs


def score(model_dir: str | Path, texts: list[str] | str, prompts: list[str] | str | None = None,
          batch_size: int = 32) -> list[float] | float:
    """Reward-model scores for replies (higher = preferred), each read exactly as reward training read it
    (toolkit.reward_model): with a chat template, a user turn and an assistant turn; without, prompt and
    reply joined by a newline and followed by EOS, cut at the run's max_length. One prompt per reply, or one
    prompt for all."""
    from toolkit.reward_model import RewardModel

    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    if isinstance(prompts, str):
        prompts = [prompts] * len(texts)
    scores = RewardModel(model_dir).score(texts, None if prompts is None else list(prompts), batch_size)
    return scores[0] if single else scores


def evaluate(run_dir: str | Path, data: str | Path | None = None, splits: list[str] | None = None,
             per_example: bool = False) -> dict:
    """A finished run's held-out metrics, recomputed from its saved model with its task's own metric code
    ({split: metrics}); `data` evaluates another file in the recipe's columns instead ({"data": metrics}).
    per_example: also return each split's per-example rows (the values the metrics are counted from)."""
    from toolkit.evaluation import evaluate as evaluate_run

    return evaluate_run(run_dir, str(data) if data else None, splits, per_example)


def report(run_dir: str | Path) -> dict[str, Path]:
    """Rebuild a run's model card (README.md), report.md and report.html from the files it wrote."""
    from toolkit.report import write_report

    return write_report(run_dir)


def compare(first: str | Path, second: str | Path, output: str | Path | None = None) -> Path:
    """One HTML page with two runs side by side: metrics, recipe differences, plots."""
    from toolkit.report import compare_runs

    return compare_runs(first, second, Path(output) if output else None)


def _merge(overrides, kwargs) -> dict | list | None:
    if not kwargs:
        return overrides
    from toolkit.recipe import parse_overrides

    merged = parse_overrides(overrides)
    merged.update({key.replace("__", "."): value for key, value in kwargs.items()})
    return merged
