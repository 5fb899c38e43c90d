"""Online RL on TRL's GRPO or RLOO trainers: the policy samples several completions per prompt, rewards
score them, and the policy moves toward the better ones (beta: KL to the starting model).

Rewards (rl.rewards) are a trained reward model's folder (RLHF), Python functions (verifiable rewards:
a maths checker, format checks, or a user's `module:function`), or both, with weights. Data: a `prompt`
column (or Alpaca-style `instruction` + `input`); other columns reach the reward functions.
Reports held-out mean reward (and each reward) of greedy completions before and after, and plots reward,
KL and completion length over training.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import transformers
from accelerate import PartialState
from datasets import DatasetDict
from transformers import AutoModelForCausalLM
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from toolkit import rl_preflight
from toolkit.chat import alpaca_to_messages, ensure_chat_template
from toolkit.data.splits import finish_splits, read_splits, require_columns, require_values, strings_in
from toolkit.errors import ToolkitError
from toolkit.generation import generate_with
from toolkit.models import set_generation_tokens, apply_lora, load_model, load_tokenizer
from toolkit.metrics.per_example import ROWS, mean
from toolkit.plots import plot_metrics
from toolkit.recipe import Recipe, RLSpec, TokenizerSpec
from toolkit.reward_model import RewardModel
from toolkit.rewards import check_function, check_golds, check_reward_model, load_function
from toolkit.run_folder import REWARDS, RL_TRENDS, plot_file
from toolkit.trainer_args import build_training_args
from toolkit.progress import model_facts
from toolkit.run import Outcome, per_example_plots
from toolkit.tasks import TaskFacts

ALGORITHMS = {"grpo": (GRPOConfig, GRPOTrainer), "rloo": (RLOOConfig, RLOOTrainer)}
FACTS = TaskFacts(
    config_class=GRPOConfig,  # for rl.algorithm: rloo the training block is checked against RLOOConfig
    method="online RL against rewards (TRL GRPOTrainer / RLOOTrainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation", metrics=("rewards", "total"),
    # Dropout off: with it, the policy's log-probs differ from the reference's at step 0 (a false KL) and the
    # importance ratios are noise; TRL's own docs recommend it with a reference model.
    # A policy-gradient loss starts near 0 and changes sign: no ratio to its start means divergence
    # (toolkit.guards).
    defaults={"logging_steps": 5, "max_completion_length": 32, "disable_dropout": True, "divergence_factor": None},
    fused_lm_head=True, measured_by_trainer=False, answers=True)


def config_class_for(recipe: Recipe):
    return ALGORITHMS[(recipe.rl or RLSpec()).algorithm][0]


@dataclass
class Reward:
    name: str
    weight: float
    function: object  # a callable: a reward function, or a RewardModel (a folder's path until loaded)


@dataclass
class Prepared:
    recipe: Recipe
    args: object
    splits: DatasetDict
    tokenizer: object
    model: object
    rewards: list[Reward]
    preflight: dict | None = None  # the reward preflight's figures, once it has run


def parse_rewards(spec: RLSpec | None, where: str, conversational: bool = False, load: bool = False) -> list[Reward]:
    """The recipe's rewards, checked; load: also load reward-model folders (as toolkit.reward_model.RewardModel,
    which reads each (prompt, completion) exactly as reward training did)."""
    if spec is None or not spec.rewards:
        raise ToolkitError(f"{where}: rl.rewards is empty. Name at least one: {{function: exact_match}}, "
                           f"{{function: my_module:my_reward}} or {{model: runs/my-reward-model}}.")
    rewards = []
    for i, item in enumerate(spec.rewards, 1):
        at = f"{where}: rl.rewards[{i}]"
        if not isinstance(item, dict) or len({"function", "model"} & set(item)) != 1 or \
                set(item) - {"function", "model", "weight"}:
            raise ToolkitError(f"{at}: each reward is {{function: ...}} or {{model: ...}}, with an optional weight.")
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ToolkitError(f"{at}.weight: expected a number, got {weight!r}.")
        if "model" in item:
            folder = check_reward_model(str(item["model"]), at, conversational)
            rewards.append(Reward(f"model:{item['model']}", float(weight), RewardModel(folder) if load else folder))
        else:
            rewards.append(Reward(str(item["function"]), float(weight), load_function(str(item["function"]), at)))
    return rewards


def load_prompts(recipe: Recipe, conversational: bool) -> DatasetDict:
    where = f"{recipe.source}: data"
    splits = read_splits(recipe)
    columns = splits["train"].column_names
    if "prompt" not in columns and "instruction" not in columns:
        raise ToolkitError(f"{where}: RL data needs a 'prompt' column (or 'instruction' and optional 'input'). "
                           f"Columns here: {', '.join(columns)}.")
    key = "prompt" if "prompt" in columns else "instruction"
    require_columns(splits, {f"{key} column": key}, where)
    require_values(splits, (key,), where)

    def convert(row):
        text = row["prompt"] if key == "prompt" else alpaca_to_messages(row["instruction"], row.get("input"), None)[0]["content"]
        return {"prompt": [{"role": "user", "content": text}] if conversational and isinstance(text, str) else text}

    drop = [c for c in ("instruction", "input", "output") if c in columns and key == "instruction"]
    splits = DatasetDict({name: split.map(convert, remove_columns=drop) for name, split in splits.items()})
    return finish_splits(splits, recipe)


def prepare(recipe: Recipe) -> Prepared:
    where = recipe.source
    config_class = config_class_for(recipe)
    args = build_training_args(recipe, config_class, FACTS.defaults)
    parse_rewards(recipe.rl, where)  # names and folders first: cheap, and before any data or model loads
    if isinstance(recipe.model.tokenizer, TokenizerSpec):
        splits = load_prompts(recipe, conversational=False)
        tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=strings_in(splits["train"]))
    else:
        tokenizer = load_tokenizer(recipe.model, f"{where}: model")
        splits = load_prompts(recipe, conversational=bool(tokenizer.chat_template))
    if not isinstance(splits["train"][0]["prompt"], str):
        ensure_chat_template(tokenizer)  # conversations given as such need a template, ChatML by default
    rewards = parse_rewards(recipe.rl, where, conversational=not isinstance(splits["train"][0]["prompt"], str), load=True)
    sample = splits["train"].select(range(min(2, len(splits["train"])))).to_dict()
    for reward in rewards:
        if not isinstance(reward.function, RewardModel):
            check_golds(reward.function, reward.name, splits, f"{where}: rl.rewards")  # first: the clearer message
            check_function(reward.function, reward.name, sample, f"{where}: rl.rewards")
    if "reward_weights" not in recipe.training:
        args.reward_weights = [r.weight for r in rewards]
    transformers.set_seed(args.seed)
    model = load_model(AutoModelForCausalLM, recipe.model, tokenizer, f"{where}: model")
    set_generation_tokens(model, tokenizer)
    check_room(splits, tokenizer, model.config, args, where)
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "CAUSAL_LM", where)
    return Prepared(recipe, args, splits, tokenizer, model, rewards)


def check_room(splits: DatasetDict, tokenizer, config, args, where: str) -> None:
    """Every prompt and its completion must fit the model's positions (TRL's RL trainers cut neither): past them
    a model with learned positions fails mid-run with a bare IndexError."""
    limit = getattr(config, "max_position_embeddings", None)
    if not limit:
        return
    completion_length = args.max_completion_length
    for name, split in splits.items():
        prompts = list(split["prompt"])
        if not prompts:
            continue
        ids = rl_preflight.prompt_ids(tokenizer, prompts, args.chat_template_kwargs)
        longest = max(range(len(ids)), key=lambda i: len(ids[i]))
        if len(ids[longest]) + completion_length > limit:
            raise ToolkitError(f"{where}: data: {name} prompt {longest + 1} is {len(ids[longest])} tokens, and with "
                               f"training.max_completion_length {completion_length} a completion needs "
                               f"{len(ids[longest]) + completion_length} positions; the model has {limit}. Shorten "
                               f"the prompts, lower max_completion_length, or give the model more positions.")


@contextlib.contextmanager
def reference_for_trl(model, needed: bool):
    """TRL's RL trainers build the KL reference by reloading the policy's config path while they are built. A
    model built from a config has none, and a loaded one may have gained tokens since: for that moment, the
    starting weights are saved to a temporary folder and the config points there; the folder is removed and
    the path restored however building ends."""
    if not needed:
        yield
        return
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    token = [uuid.uuid4().hex if state.is_main_process else None]
    if state.num_processes > 1:
        broadcast_object_list(token)  # one name for every rank; each machine's first process writes the copy
    folder = Path(tempfile.gettempdir()) / f"toolkit-reference-{token[0]}"
    original = model.config._name_or_path
    try:
        if state.is_local_main_process:
            model.save_pretrained(folder)
        state.wait_for_everyone()
        model.config._name_or_path = str(folder)
        yield
    finally:
        model.config._name_or_path = original
        state.wait_for_everyone()
        if state.is_local_main_process:
            shutil.rmtree(folder, ignore_errors=True)


def describe(prepared: Prepared) -> dict:
    args = prepared.args
    steps, per_step = rl_optimizer_steps(args, len(prepared.splits["train"]))
    return {**model_facts(prepared.recipe, prepared.model), "algorithm": (prepared.recipe.rl or RLSpec()).algorithm,
            "rewards": [{"reward": r.name, "weight": r.weight} for r in prepared.rewards],
            "num_generations": args.num_generations, "max_completion_length": args.max_completion_length,
            "beta": args.beta, "splits": {name: {"prompts": len(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "step_unit": "sampled completions",
            "output_dir": str(args.output_dir)}


def rl_optimizer_steps(args, prompts: int) -> tuple[int, int]:
    """(optimizer steps, completions per step) as TRL's GRPO and RLOO count them: a batch holds completions,
    num_generations per prompt, each generation round used num_iterations times; prompts that do not fill a
    round are left out of the epoch."""
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    if args.max_steps > 0:
        return args.max_steps, per_step
    per_round = args.generation_batch_size // args.num_generations
    used = prompts // per_round * per_round
    per_epoch = used * args.num_generations * getattr(args, "num_iterations", 1) // per_step
    return math.ceil(per_epoch * args.num_train_epochs), per_step


def held_out_rewards(prepared: Prepared, model, split, max_new_tokens: int) -> dict:
    """Each reward (function or reward model) of the greedy completion of every held-out prompt, one row per
    prompt; a reward's mean is over all prompts (a function's None counts as 0, as TRL's weighted sum does)."""
    rows = split.to_dict()
    prompts = [p if isinstance(p, str) else p[0]["content"] for p in rows["prompt"]]
    chat = not isinstance(rows["prompt"][0], str)
    completions = generate_with(model, prepared.tokenizer, prompts, max_new_tokens, chat=chat)
    columns = {key: value for key, value in rows.items() if key != "prompt"}
    scored = {reward.name: reward.function(prompts=prompts, completions=completions, **columns)
              for reward in prepared.rewards}
    per_prompt = [{"prompt": prompt, "completion": completion,
                   **{key: values[i] for key, values in columns.items() if isinstance(values[i], (str, int, float))},
                   "rewards": {name: scores[i] for name, scores in scored.items()}}
                  for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True))]
    weights = {reward.name: reward.weight for reward in prepared.rewards}
    for row in per_prompt:
        row["total"] = sum(weights[name] * (value or 0.0) for name, value in row["rewards"].items())
    means = {name: mean([value or 0.0 for value in scores]) for name, scores in scored.items()}
    return {"rewards": means, "total": mean([row["total"] for row in per_prompt]), "prompts": len(per_prompt),
            ROWS: per_prompt}


def preflight(prepared: Prepared) -> dict | None:
    """Samples from the starting policy, scored by every reward, before training: a run whose groups mostly score
    alike (nothing to learn from) is warned of or refused, as rl.preflight sets (toolkit.rl_preflight). Its figures
    are kept for metrics.json and returned (None when off)."""
    prepared.preflight = rl_preflight.preflight(prepared)
    return prepared.preflight


def build_trainer(prepared: Prepared):
    trainer_class = ALGORITHMS[(prepared.recipe.rl or RLSpec()).algorithm][1]
    with reference_for_trl(prepared.model, needed=bool(prepared.args.beta) and not prepared.recipe.peft):
        return trainer_class(model=prepared.model, reward_funcs=[r.function for r in prepared.rewards],
                             args=prepared.args, train_dataset=prepared.splits["train"],
                             processing_class=prepared.tokenizer)


def measure(trainer, prepared: Prepared, name: str) -> dict:
    """Each reward of the greedy completions of a held-out split's prompts; the trainer's model while training,
    the saved one in `toolkit eval` (no trainer)."""
    model = trainer.model if trainer is not None else prepared.model
    return held_out_rewards(prepared, model, prepared.splits[name], prepared.args.max_completion_length)


def outputs(outcome: Outcome) -> dict:
    """Reward, KL and completion length over training, and each held-out prompt's reward before and after."""
    artifacts, history = {}, outcome.trainer.state.log_history
    algorithm = (outcome.recipe.rl or RLSpec()).algorithm.upper()
    if plot_metrics(history, ["reward", "kl", "completions/mean_length"], plot_file(outcome.output_dir, RL_TRENDS),
                    f"{algorithm}: reward, KL, length"):
        artifacts["rl_trends"] = plot_file(outcome.output_dir, RL_TRENDS)
    return {**artifacts, **per_example_plots(outcome, REWARDS, "Reward per held-out prompt ({split})",
                                             "weighted reward of the greedy completion", "total")}


def reward_trend(outcome: Outcome) -> list[float]:
    return [row["reward"] for row in outcome.trainer.state.log_history if "reward" in row]


def extra_metrics(outcome: Outcome) -> dict:
    """The mean reward of sampled completions as training logged it: first, last, and every logged step."""
    trend = reward_trend(outcome)
    checked = {"reward_preflight": outcome.prepared.preflight} if outcome.prepared.preflight else {}
    return {**checked, "train_reward_first": trend[0] if trend else None, "train_reward_last": trend[-1] if trend else None,
            "train_reward": [[row["step"], row["reward"]] for row in outcome.trainer.state.log_history
                             if "reward" in row]}


def summary(outcome: Outcome) -> list[str]:
    lines = [f"{name}: {reward} {outcome.before[name]['rewards'][reward]:.3f} -> {value:.3f} "
             f"(mean over {values['prompts']} held-out prompts, greedy)"
             for name, values in outcome.after.items() for reward, value in values["rewards"].items()]
    trend = reward_trend(outcome)
    if trend:
        lines.append(f"(during training, the mean reward of sampled completions went {trend[0]:.3f} -> "
                     f"{trend[-1]:.3f}; the held-out line above, greedy replies to unseen prompts, is the result)")
    idle = zero_spread_during_training(outcome.trainer.state.log_history)
    if idle is not None and outcome.prepared.preflight:
        lines.append(f"groups with no reward spread: {outcome.prepared.preflight['total_no_spread']:.0%} in the "
                     f"preflight, {idle:.0%} during training (TRL's frac_reward_zero_std)")
    return lines


def zero_spread_during_training(history: list[dict]) -> float | None:
    """TRL's frac_reward_zero_std over the run: each logged value is the mean of the steps since the one before."""
    total = previous = 0
    for row in history:
        if "frac_reward_zero_std" in row:
            total += row["frac_reward_zero_std"] * (row["step"] - previous)
            previous = row["step"]
    return total / previous if previous else None
