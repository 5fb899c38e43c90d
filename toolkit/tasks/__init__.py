"""The tasks, one module each, and the interface every task module keeps.

The order of a run is not here: it is toolkit.training's, the same for every task. A task module supplies:

- FACTS: a TaskFacts (below): what it trains, with which config, how it reports;
- prepare(recipe) -> Prepared: checks the recipe, reads and checks the data, loads the tokenizer and model,
  builds the trainer config. Raises ToolkitError on bad input before anything expensive; writes nothing and
  changes no library state (`toolkit check` is prepare + describe). Prepared holds at least recipe, args,
  splits, tokenizer and model;
- describe(prepared) -> dict: what would run (model, parameters, splits and their sizes, optimizer steps,
  output_dir, warnings); printed by `toolkit check` and at the start of a run;
- build_trainer(prepared) -> the transformers / TRL trainer that trains it (and, for `toolkit eval`, measures it);
- measure(trainer, prepared, split) -> metrics of one held-out split, with its per-example rows under
  "per_example" (toolkit.metrics.per_example): the numbers a run reports before and after training and `toolkit eval`
  recomputes. trainer is None for a task whose FACTS say measured_by_trainer=False;
- summary(outcome) -> list[str]: the lines said when the run ends (toolkit.run.Outcome: the trained trainer and
  its measurements);

and, where it has them, small hooks:

- outputs(outcome) -> {artifact: path}: files beyond the model, metrics, loss curve and samples (plots of its own
  metrics, fill-mask predictions), written by the main process;
- extra_metrics(outcome) -> dict: entries of metrics.json beyond the held-out splits (RL's reward trend);
- examples(prepared, count): the first training examples as the trainer sees them (`toolkit check --show`);
- config_class_for(recipe): the config class, where the recipe chooses it (rlhf: by rl.algorithm);
- preflight(prepared) -> dict | None: a check that needs the loaded model, run after the run is announced and
  before the trainer is built, and by `toolkit check --preflight` (rlhf: the reward preflight, toolkit.rl_preflight).
  It says its lines, returns its figures, may raise ToolkitError to refuse the run (nothing of the run written
  yet), and leaves every random state as it found it.

Tasks never import tasks: what a family shares lives in a shared module (toolkit.tasks.language_models for pretrain,
mlm and sft; toolkit.tasks.preferences for reward, dpo, kto and orpo). Adding a task is a new module here, one line
in TASKS, a recipe and its tests (README, "Adding a task").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

TASKS = ("classification", "pretrain", "mlm", "sft", "reward", "dpo", "kto", "orpo", "rlhf")
FUNCTIONS = ("prepare", "describe", "build_trainer", "measure", "summary")
HOOKS = ("outputs", "extra_metrics", "examples", "config_class_for", "preflight")


@dataclass(frozen=True)
class TaskFacts:
    """What a task is, read by the run, `toolkit check`, `toolkit eval` and the model card.

    Parameters:
        config_class: the trainer config class a recipe's `training` block is checked against and becomes.
        method: one line for the model card: what it trains, on which trainer.
        auto_class: the transformers Auto class that loads the saved model.
        pipeline_tag: the Hub's pipeline tag for the saved model.
        metrics: the metrics it reports for each held-out split (keys of metrics.json's split entries).
        defaults: the toolkit's defaults for the config on this task; the recipe's own value always wins. May set
            the toolkit's own training keys too (toolkit.trainer_args.OwnKeys).
        uses_trl: trained by a TRL trainer (the model card's tags).
        fused_lm_head: its TRL trainer scores tokens with TRL's fused LM head (toolkit.lm_head).
        evaluates_against_start: its held-out metrics compare the model with the one it started from, so
            `toolkit eval` loads that model too (dpo, kto).
        separator: the special token that ends each document in the joined stream of token blocks ("eos",
            "sep"); a task with one can be tokenized once into token shards (`toolkit tokenize`).
        measured_before: the held-out splits are measured before training too (metrics.json's "before").
        measured_by_trainer: measure() needs the trainer (its collator, its tokenized splits); RL's rewards
            need only the model, so `toolkit eval` builds no trainer for it.
        answers: the model writes greedy answers to held-out prompts, scored against the references
            (toolkit.metrics.answers: generations.jsonl).
        samples: continuations of eval.prompts at each evaluation (toolkit.samples): "base" (sampled, plain
            text) or "chat" (greedy, with the chat template); None: no samples.
        loss_title: the loss curve's title; None: no loss curve (RL plots reward, KL and length instead).
    """

    config_class: type
    method: str
    auto_class: str
    pipeline_tag: str
    metrics: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    uses_trl: bool = True
    fused_lm_head: bool = False
    evaluates_against_start: bool = False
    separator: str | None = None
    measured_before: bool = True
    measured_by_trainer: bool = True
    answers: bool = False
    samples: str | None = None
    loss_title: str | None = None


def get_task(name: str, where: str):
    if name not in TASKS:
        raise ToolkitError(f"{where}: unknown task '{name}'{suggest(name, TASKS)}. Tasks: {', '.join(TASKS)}.")
    return importlib.import_module(f"toolkit.tasks.{name}")


def config_class(task, recipe):
    """The trainer config class a recipe's training block is checked against (rlhf: by rl.algorithm)."""
    chooser = getattr(task, "config_class_for", None)
    return chooser(recipe) if chooser else task.FACTS.config_class
