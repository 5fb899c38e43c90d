"""The tasks, one module each, and the interface every task module keeps.

A task module holds its own facts, as module constants:

- CONFIG_CLASS: the trainer config class the recipe's `training` block is checked against (a task that
  chooses by recipe, rlhf by rl.algorithm, also defines `config_class_for(recipe)`);
- DEFAULTS: the toolkit's defaults for that config on this task (the recipe's own value always wins);
- METHOD: one line for the model card: what it trains, on which trainer;
- AUTO_CLASS, PIPELINE_TAG: the transformers Auto class that loads the saved model, and the Hub's pipeline tag;
- USES_TRL: trained by a TRL trainer (the model card's tags);
- FUSED_LM_HEAD: its TRL trainer scores tokens with TRL's fused LM head (toolkit.lm_head);
- EVALUATES_AGAINST_START: its held-out metrics compare the model with the one it started from, so
  `toolkit eval` loads that model too (dpo, kto);
- METRICS: the metrics it reports for each held-out split (keys of metrics.json's split entries);
- SEPARATOR (pretrain and mlm only): the special token that ends each document in the joined stream of token
  blocks ("eos", "sep"); a task with one can be tokenized once into token shards (`toolkit tokenize`);

and four functions:

- prepare(recipe) -> Prepared: checks the recipe, reads and checks the data, loads the tokenizer and model,
  builds the trainer config. Raises ToolkitError on bad input before anything expensive; writes nothing and
  changes no library state (`toolkit check` is prepare + describe);
- describe(prepared) -> dict: what would run (model, parameters, splits and their sizes, optimizer steps,
  output_dir, warnings); printed by `toolkit check` and at the start of `train`;
- train(recipe) -> TrainResult: prepare, train, measure the held-out splits before and after, and write the
  finished run (toolkit.run_folder);
- evaluate(prepared, names) -> {split: metrics}: the held-out metrics `train` reports, for a prepared recipe
  whose model is a finished run's (toolkit eval).

Tasks never import tasks: what a family shares lives in a shared module (toolkit.language_models for pretrain,
mlm and sft; toolkit.preferences for reward, dpo, kto and orpo). Adding a task is a new module here, one line
in TASKS, a recipe and its tests (README, "Adding a task").
"""

from __future__ import annotations

import importlib

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

TASKS = ("classification", "pretrain", "mlm", "sft", "reward", "dpo", "kto", "orpo", "rlhf")
FACTS = {"CONFIG_CLASS": type, "DEFAULTS": dict, "METHOD": str, "AUTO_CLASS": str, "PIPELINE_TAG": str,
         "USES_TRL": bool, "FUSED_LM_HEAD": bool, "EVALUATES_AGAINST_START": bool, "METRICS": tuple}
FUNCTIONS = ("prepare", "describe", "train", "evaluate")


def get_task(name: str, where: str):
    if name not in TASKS:
        raise ToolkitError(f"{where}: unknown task '{name}'{suggest(name, TASKS)}. Tasks: {', '.join(TASKS)}.")
    return importlib.import_module(f"toolkit.tasks.{name}")


def config_class(task, recipe):
    """The trainer config class a recipe's training block is checked against (rlhf: by rl.algorithm)."""
    chooser = getattr(task, "config_class_for", None)
    return chooser(recipe) if chooser else task.CONFIG_CLASS
