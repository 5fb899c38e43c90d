"""The order of a run (toolkit.training), held with a fake task around a real Trainer: the output folder is refused
or claimed before the task prepares anything, preparing writes nothing, the held-out splits are measured before
and after training by the task's own measure, the task's outputs are written before the run is marked finished,
and its summary is said last. Every task goes through this one order; the task tests check what each step does."""

from __future__ import annotations

import types
from dataclasses import dataclass

import pytest
from datasets import Dataset, DatasetDict
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

import toolkit.training
from conftest import classification_recipe, TINY_GPT2
from toolkit.errors import ToolkitError
from toolkit.recipe import load_recipe
from toolkit.run_folder import FINISHED, is_finished
from toolkit.tasks import TaskFacts
from toolkit.trainer_args import build_training_args


@dataclass
class Prepared:
    recipe: object
    args: object
    splits: DatasetDict
    tokenizer: object
    model: object


class Tokenizer:
    """Just what saving a run asks of a tokenizer."""

    def save_pretrained(self, folder):
        pass


def fake_task(steps: list[str]):
    """A task whose every step says when it ran (and what the run folder held then)."""

    class Steps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            steps.append(f"train step {state.global_step}")

    def prepare(recipe):
        steps.append("prepare" + (" (folder claimed)" if (recipe.output_dir / ".toolkit").exists() else ""))
        rows = Dataset.from_dict({"input_ids": [[1, 2, 3, 4]] * 8, "labels": [[1, 2, 3, 4]] * 8})
        model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=10, n_positions=8, bos_token_id=0,
                                           eos_token_id=0))
        args = build_training_args(recipe, TrainingArguments, {"eval_strategy": "no"})
        return Prepared(recipe, args, DatasetDict(train=rows, validation=rows.select(range(2))), Tokenizer(), model)

    def build_trainer(prepared):
        steps.append("build_trainer")
        return Trainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                       callbacks=[Steps()])

    def measure(trainer, prepared, name):
        steps.append(f"measure {name} at step {trainer.state.global_step}")
        return {"loss": 1.0 / (1 + trainer.state.global_step)}

    def outputs(outcome):
        steps.append("outputs" + (" (finished)" if is_finished(outcome.output_dir) else ""))
        return {}

    def summary(outcome):
        steps.append("summary" + (" (finished)" if (outcome.output_dir / FINISHED).exists() else ""))
        return [f"validation: {outcome.before['validation']['loss']} -> {outcome.after['validation']['loss']}"]

    def describe(prepared):
        steps.append("describe")
        return {"task": "fake", "model": "gpt2", "parameters": 1, "trainable_parameters": 1,
                "splits": {"train": {"examples": 8}}, "optimizer_steps": 2, "examples_per_step": 8}

    facts = TaskFacts(config_class=TrainingArguments, method="a fake task", auto_class="AutoModelForCausalLM",
                      pipeline_tag="text-generation", metrics=("loss",), uses_trl=False)
    return types.SimpleNamespace(FACTS=facts, prepare=prepare, build_trainer=build_trainer, measure=measure,
                                 outputs=outputs, summary=summary, describe=describe)


def run_fake(tmp_path, monkeypatch, steps: list | None = None, **recipe):
    steps = [] if steps is None else steps
    monkeypatch.setattr(toolkit.training, "get_task", lambda name, where: fake_task(steps))
    made = {**classification_recipe(tmp_path, TINY_GPT2), "training": {"max_steps": 2, "logging_steps": 1,
                                                                       "output_dir": str(tmp_path / "run")}, **recipe}
    return toolkit.training.train(load_recipe(made)), steps


def test_a_run_goes_through_its_steps_in_one_order(tmp_path, monkeypatch):
    result, steps = run_fake(tmp_path, monkeypatch)
    assert steps == ["prepare (folder claimed)", "describe", "build_trainer", "measure validation at step 0",
                     "train step 1", "train step 2", "measure validation at step 2", "outputs", "summary (finished)"]
    assert result.metrics["before"]["validation"] == {"loss": 1.0}
    assert result.metrics["validation"] == {"loss": 1 / 3}
    assert is_finished(result.output_dir)


def test_a_refused_folder_stops_the_run_before_the_task_prepares(tmp_path, monkeypatch):
    run_fake(tmp_path, monkeypatch)
    with pytest.raises(ToolkitError, match="already holds a finished run"):
        run_fake(tmp_path, monkeypatch, training={"output_dir": str(tmp_path / "run")}, steps=(steps := []))
    assert steps == []
