"""Preference pairs for reward models and DPO, in the shapes public preference sets use:

- `chosen` + `rejected` (the prompt implicit in both), or `prompt` + `chosen` + `rejected`;
- `instruction` (+ `input`) + `chosen` + `rejected`, the usual preference JSON, made into prompt + replies;
- conversational values (lists of {role, content} turns) pass through as they are;
- ShareGPT's, as LLaMA-Factory's ranking data: `conversations` (the turns before the replies, {from, value}) +
  `chosen` + `rejected` (one {from, value} turn each), made into prompt + replies conversations;
- for KTO, unpaired replies too: `prompt` + `completion` + `label` (true = desirable, false = undesirable).

A model with a chat template gets the pairs as conversations (prompt = a user turn, replies = assistant
turns) so TRL formats them with the template; otherwise as plain text.
"""

from __future__ import annotations

import copy

import transformers
from datasets import DatasetDict
from transformers import AutoModelForCausalLM

from toolkit.chat import alpaca_to_messages, ensure_chat_template, sharegpt_to_messages
from toolkit.data.splits import finish_splits, map_processes, read_splits, require_columns, require_values, strings_in
from toolkit.errors import ToolkitError
from toolkit.plots import plot_metrics
from toolkit.models import apply_lora, load_model, load_tokenizer, set_generation_tokens
from toolkit.recipe import Recipe, TokenizerSpec
from toolkit.run import Outcome, per_example_plots
from toolkit.run_folder import MARGINS, plot_file
from toolkit.trainer_args import build_training_args, evaluate_only_with_validation
from toolkit.data.streaming import column_values, columns_of, examples, head, is_stream


SHAPES = {"explicit": ("prompt", "chosen", "rejected"), "instruction": ("instruction", "chosen", "rejected"),
          "sharegpt": ("conversations", "chosen", "rejected"), "implicit": ("chosen", "rejected"),
          "unpaired": ("prompt", "completion", "label")}


def detect(columns: list[str], where: str, unpaired: bool) -> str:
    if "chosen" in columns and "rejected" in columns:
        if "prompt" in columns:
            return "explicit"
        if "instruction" in columns:
            return "instruction"
        return "sharegpt" if "conversations" in columns else "implicit"
    if unpaired and "completion" in columns and "label" in columns:
        return "unpaired"
    also = " Unpaired data for KTO: 'prompt', 'completion' and a true/false 'label'." if unpaired else ""
    raise ToolkitError(f"{where}: preference data needs 'chosen' and 'rejected' columns (with 'prompt', "
                       f"'instruction' and optional 'input', or ShareGPT's 'conversations').{also} Columns here: "
                       f"{', '.join(columns)}.")


def sharegpt_pair(row: dict, where: str) -> dict:
    """A ShareGPT ranking row as conversations: the turns before the replies are the prompt, which ends with
    the user's turn; `chosen` and `rejected` (a {from, value} turn, or a list of them) are the assistant's."""
    pair = {"prompt": sharegpt_to_messages(row["conversations"], where)}
    if not pair["prompt"] or pair["prompt"][-1]["role"] != "user":
        raise ToolkitError(f"{where}: the 'conversations' before the replies must end with a user turn (from "
                           f"'human' or 'user'), which the replies answer.")
    for key in ("chosen", "rejected"):
        reply = [row[key]] if isinstance(row[key], dict) else row[key]
        pair[key] = sharegpt_to_messages(reply, f"{where}: '{key}'")
        if not pair[key] or any(turn["role"] != "assistant" for turn in pair[key]):
            speakers = ", ".join(repr(turn["from"]) for turn in reply) or "no turn"
            raise ToolkitError(f"{where}: '{key}' must be the assistant's reply (from 'gpt' or 'assistant'); "
                               f"here it is from {speakers}.")
    return pair


def check_sharegpt_pairs(splits: DatasetDict, where: str) -> None:
    """Every ranking row (a stream's first ones) read before the conversion runs, so a row that is refused stops
    the run with its split and row before any progress bar."""
    for name, split in splits.items():
        for row, values in enumerate(head(split) if is_stream(split) else split):
            sharegpt_pair(values, f"{where}: split '{name}' row {row + 1}")


def require_bool_labels(splits: DatasetDict, where: str) -> None:
    for name, split in splits.items():
        for row, label in enumerate(column_values(split, "label")):
            if not isinstance(label, bool):
                raise ToolkitError(f"{where}: split '{name}' row {row + 1}: 'label' must be true (desirable) or false "
                                   f"(undesirable), got {label!r}.")


def load_pairs(recipe: Recipe, conversational: bool, unpaired: bool = False) -> tuple[DatasetDict, str]:
    """Read, check and convert the recipe's preference data; returns the splits and the shape found.
    unpaired: also accept prompt + completion + label rows (KTO)."""
    where = f"{recipe.source}: data"
    splits = read_splits(recipe)
    shape = detect(columns_of(splits["train"]), where, unpaired)
    needed = SHAPES[shape]
    require_columns(splits, {f"{c} column": c for c in needed}, where)
    require_values(splits, [c for c in needed if c != "label"], where)
    if shape == "unpaired":
        require_bool_labels(splits, where)
    if shape == "sharegpt":
        check_sharegpt_pairs(splits, where)
    replies = ("completion",) if shape == "unpaired" else ("chosen", "rejected")

    def convert(row, index, split):
        if shape == "sharegpt":
            row = sharegpt_pair(row, f"{where}: split '{split}' row {index + 1}")
        prompt = row.get("prompt")
        if shape == "instruction":
            prompt = alpaca_to_messages(row["instruction"], row.get("input"), None)[0]["content"]
        out = {key: row[key] for key in replies}
        if shape == "unpaired":
            out["label"] = row["label"]
        if prompt is not None:
            out["prompt"] = prompt
        if not conversational and isinstance(out.get("prompt"), str) and not out["prompt"][-1:].isspace():
            out["prompt"] += "\n"  # TRL joins prompt and reply as they are: keep them apart
        if conversational:
            if isinstance(out.get("prompt"), str):
                out["prompt"] = [{"role": "user", "content": out["prompt"]}]
            for key in replies:
                if isinstance(out[key], str):
                    out[key] = [{"role": "assistant", "content": out[key]}]
        return out

    keep = ["prompt", *replies] if shape != "implicit" else list(replies)
    if shape == "unpaired":
        keep.append("label")
    converted = DatasetDict({name: split.map(convert, with_indices=True, fn_kwargs={"split": name},
                                             remove_columns=columns_of(split)).select_columns(keep)
                             for name, split in splits.items()})
    return finish_splits(converted, recipe), shape


def prepare_pairs(recipe: Recipe, config_class, defaults: dict, unpaired: bool = False, check_args=None):
    """What the preference tasks share up to the model: the checked config, the output folder, the pairs and
    the tokenizer. The tokenizer comes first when it exists, since its chat template decides the pairs' form.
    check_args(args, where): a task's own checks of its config, before any data is read."""
    where = recipe.source
    args = build_training_args(recipe, config_class, {**defaults, "max_length": recipe.data.max_length})
    if check_args:
        check_args(args, where)
    if isinstance(recipe.model.tokenizer, TokenizerSpec):
        splits, shape = load_pairs(recipe, conversational=False, unpaired=unpaired)
        tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=strings_in(splits["train"]))
    else:
        tokenizer = load_tokenizer(recipe.model, f"{where}: model")
        splits, shape = load_pairs(recipe, conversational=bool(tokenizer.chat_template), unpaired=unpaired)
    first = head(splits["train"], 1)[0]
    if isinstance(first.get("chosen", first.get("completion")), list):
        ensure_chat_template(tokenizer)  # conversations given as such need a template, ChatML by default
    evaluate_only_with_validation(args, splits, recipe)
    if "dataset_num_proc" not in recipe.training:  # TRL tokenizes the pairs
        args.dataset_num_proc = map_processes(recipe.data, examples(splits["train"]))
    transformers.set_seed(args.seed)
    return args, splits, shape, tokenizer


def load_policy(recipe: Recipe, tokenizer, reference: bool = True):
    """The causal LM a preference method trains, and its reference: a frozen copy of the start for full
    fine-tuning, None with LoRA (the adapter switched off is the start, no second copy in memory) or when
    the method has no reference (ORPO)."""
    where = recipe.source
    model = load_model(AutoModelForCausalLM, recipe.model, tokenizer, f"{where}: model")
    set_generation_tokens(model, tokenizer)
    if recipe.peft:
        return apply_lora(model, recipe.peft, "CAUSAL_LM", where), None
    # An explicit frozen copy: TRL would otherwise reload the reference from the config's path, which a model
    # built from a config (or given new tokens) does not have.
    return model, copy.deepcopy(model).eval().requires_grad_(False) if reference else None


def pair_summary(outcome: Outcome, label: str) -> list[str]:
    """A line per held-out split: `label` (the accuracy's name; "" when the task has none) and the mean margin,
    before -> after."""
    return [summary(name, outcome.before[name], after, label) for name, after in outcome.after.items()]


def summary(name: str, before: dict, after: dict, label: str) -> str:
    if "accuracy" in after:
        ties = f" ({after['ties']} ties)" if after.get("ties") else ""
        return (f"{name}: {label} {before['accuracy']:.3f} -> {after['accuracy']:.3f} "
                f"({before['correct']} -> {after['correct']} of {after['pairs']} pairs{ties}), "
                f"mean margin {before['margin']:.3f} -> {after['margin']:.3f}")
    return f"{name}: mean margin {before['margin']:.3f} -> {after['margin']:.3f}"


def pair_plots(outcome: Outcome, keys: list[str], name: str, title: str) -> dict:
    """The trainer's logged `keys` over training (plot `name`), and each held-out pair's margin before and after."""
    artifacts = {}
    if plot_metrics(outcome.trainer.state.log_history, keys, plot_file(outcome.output_dir, name), title):
        artifacts[name] = plot_file(outcome.output_dir, name)
    # each held-out pair's margin (chosen - rejected; KTO: each reply's reward) before and after training
    return {**artifacts, **per_example_plots(outcome, MARGINS, "Per-example {key}s ({split})", "{key}", margin_or_reward,
                                             zero_line=True)}


def margin_or_reward(rows: list[dict]) -> str:
    return "margin" if rows and "margin" in rows[0] else "reward"
