"""Instruction / chat SFT on TRL's SFTTrainer.

Data, by column: `messages` (a conversation), `prompt` + `completion`, Alpaca-style `instruction` +
`output` (+ `input`), which becomes a user turn and an assistant reply, or ShareGPT's `conversations` ({from,
value} turns, what Axolotl and LLaMA-Factory read), which become `messages`. A model without a chat template
(GPT-2) gets ChatML with a trained end-of-turn token (toolkit.chat) and a pad token distinct from EOS.
Loss is on the assistant's tokens only (messages) or the completion only (prompt/completion).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import transformers
from datasets import Dataset, DatasetDict
from transformers import AutoModelForCausalLM
from trl import SFTConfig, SFTTrainer

from toolkit.chat import alpaca_to_messages, ensure_chat_template, sharegpt_to_messages
from toolkit.data.splits import carved_by_split, finish_splits, map_processes, read_splits, require_columns, require_values, strings_in
from toolkit.devices import accelerator, gpu_kernels, installed_kernels
from toolkit.errors import ToolkitError
from toolkit.models import set_generation_tokens, positions_before_loading, apply_lora, load_model, load_tokenizer
from toolkit.recipe import ModelSpec, Recipe
from toolkit.tasks import TaskFacts
from toolkit.trainer_args import build_training_args, evaluate_only_with_validation, optimizer_steps
from toolkit.progress import model_facts
from toolkit.run import eval_datasets, evaluated_splits
from toolkit.data.streaming import PEEK, column_values, columns_of, head, is_stream
from toolkit.data.streaming import examples as examples_in
from toolkit.trained_view import TrainedExample, nothing_to_learn, sft_examples
from toolkit.metrics.language_model import lm_metrics
from toolkit.tasks.language_models import loss_plots, loss_summary

FACTS = TaskFacts(
    config_class=SFTConfig, method="supervised fine-tuning on instructions (TRL SFTTrainer)",
    auto_class="AutoModelForCausalLM", pipeline_tag="text-generation", metrics=("loss", "perplexity"),
    defaults={"eval_strategy": "epoch", "assistant_only_loss": True,
              # Length grouping removes most padding (1.5-1.8x on CPU); ignored when packing.
              "train_sampling_strategy": "group_by_length"},
    fused_lm_head=True, answers=True, samples="chat", loss_title="SFT loss")
outputs = loss_plots
summary = loss_summary
ROLES = {"system", "user", "assistant"}


@dataclass
class Prepared:
    recipe: Recipe
    args: SFTConfig
    splits: DatasetDict  # TRL's own formats: messages, or prompt + completion
    tokenizer: object
    model: object
    data_format: str
    warnings: list = field(default_factory=list)  # e.g. a few examples with no token of loss


def detect_format(columns: list[str], where: str) -> str:
    if "messages" in columns:
        return "messages"
    if "prompt" in columns and "completion" in columns:
        return "prompt-completion"
    if "instruction" in columns and "output" in columns:
        return "alpaca"
    if "conversations" in columns:
        return "sharegpt"
    raise ToolkitError(f"{where}: SFT data needs a 'messages' column (a conversation), 'prompt' and "
                       f"'completion' columns, Alpaca-style 'instruction' and 'output' (and optional "
                       f"'input'), or a ShareGPT 'conversations' column ({{from, value}} turns). Columns here: "
                       f"{', '.join(columns)}.")


def check_conversations(split, split_name: str, where: str) -> None:
    for row, messages in enumerate(column_values(split, "messages")):
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise ToolkitError(f"{where}: split '{split_name}' row {row + 1}: 'messages' must be a list of "
                               f"{{role, content}} turns.")
        roles = [m.get("role") for m in messages]
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ToolkitError(f"{where}: split '{split_name}' row {row + 1}: role {unknown[0]!r} is not one of "
                               f"{sorted(ROLES)}.")
        if "assistant" not in roles:
            raise ToolkitError(f"{where}: split '{split_name}' row {row + 1} has no assistant turn: there is "
                               f"nothing to learn from it. Add the reply or drop the row.")
        if any(m.get("role") == "assistant" and not str(m.get("content") or "").strip() for m in messages):
            raise ToolkitError(f"{where}: split '{split_name}' row {row + 1} has an empty assistant reply: it would "
                               f"teach only to stop at once. Write the reply or drop the row.")


def sharegpt_messages(splits: DatasetDict, where: str) -> DatasetDict:
    """ShareGPT rows as `messages`. Every row (a stream's first ones) is read before the conversion runs, so a turn
    that is refused stops the run with its split and row before any progress bar."""
    for name, split in splits.items():
        for row, turns in enumerate(column_values(split, "conversations")):
            sharegpt_to_messages(turns, f"{where}: split '{name}' row {row + 1}")

    def convert(row, index, split):
        return {"messages": sharegpt_to_messages(row["conversations"], f"{where}: split '{split}' row {index + 1}")}

    return DatasetDict({name: split.map(convert, with_indices=True, fn_kwargs={"split": name},
                                        remove_columns=columns_of(split)) for name, split in splits.items()})


def to_trl_format(splits: DatasetDict, data_format: str, where: str) -> DatasetDict:
    if data_format == "alpaca":
        def convert(row):
            return {"messages": alpaca_to_messages(row["instruction"], row.get("input"), row["output"])}

        splits = DatasetDict({name: split.map(convert, remove_columns=columns_of(split))
                              for name, split in splits.items()})
        data_format = "messages"
    if data_format == "sharegpt":
        splits, data_format = sharegpt_messages(splits, where), "messages"
    if data_format == "messages":
        for name, split in splits.items():
            check_conversations(split, name, where)
        keep = ["messages"]
    else:
        keep = ["prompt", "completion"]
    return DatasetDict({name: split.select_columns(keep) for name, split in splits.items()})


def gpu_defaults(recipe: Recipe) -> tuple[dict, ModelSpec]:
    """TRL's recommendations on a GPU, where their kernels are installed (toolkit.devices.gpu_kernels): the
    training defaults, and the model block with the attention to load (the recipe's own, if it names one)."""
    kernels = gpu_kernels(accelerator(), recipe.model.dtype, installed_kernels())
    attention = recipe.model.attn_implementation or kernels["attention"]
    defaults = {"packing": True, "packing_strategy": "bfd"} if str(attention).startswith("flash_attention") else {}
    if kernels["liger"]:
        defaults["use_liger_kernel"] = True
    return defaults, dataclasses.replace(recipe.model, attn_implementation=attention)


def prepare(recipe: Recipe) -> Prepared:
    where = recipe.source
    on_gpu, model_spec = gpu_defaults(recipe)
    defaults = {**FACTS.defaults, "max_length": recipe.data.max_length, **on_gpu}
    args = build_training_args(recipe, FACTS.config_class, defaults)
    if args.padding_free and not args.packing:
        raise ToolkitError(f"{where}: training.padding_free without packing would not cut examples to "
                           f"data.max_length (TRL refuses it). For padding-free batches set packing: true with "
                           f"packing_strategy: bfd.")
    splits = read_splits(recipe)
    data_format = detect_format(splits["train"].column_names, f"{where}: data")
    filled = {"alpaca": ("instruction", "output"), "prompt-completion": ("prompt", "completion"),
              "messages": ("messages",), "sharegpt": ("conversations",)}[data_format]
    require_columns(splits, {f"{c} column": c for c in filled}, f"{where}: data")
    require_values(splits, filled, f"{where}: data")
    splits = finish_splits(to_trl_format(splits, data_format, f"{where}: data"), recipe)
    if data_format == "prompt-completion" and "assistant_only_loss" not in recipe.training:
        args.assistant_only_loss = False  # the completion mask does that job for this format
    evaluate_only_with_validation(args, splits, recipe)
    if "dataset_num_proc" not in recipe.training:  # TRL tokenizes the conversations
        args.dataset_num_proc = map_processes(recipe.data, examples_in(splits["train"]))

    tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=strings_in(splits["train"]))
    if data_format != "prompt-completion" or not isinstance(head(splits["train"], 1)[0]["prompt"], str):
        ensure_chat_template(tokenizer)
    positions = positions_before_loading(model_spec, f"{where}: model")
    if positions and args.max_length and args.max_length > positions:
        args.max_length = positions  # longer rows (or packed blocks) would index past the position table
    warnings = [warning for name, split in splits.items()
                if (warning := nothing_to_learn(trained_examples(split, name, args, tokenizer), f"{where}: data", name,
                                                LOSS_FIX, carved_by_split(recipe, name)))]
    transformers.set_seed(args.seed)
    model = load_model(AutoModelForCausalLM, model_spec, tokenizer, f"{where}: model")
    set_generation_tokens(model, tokenizer)
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "CAUSAL_LM", where)
    return Prepared(recipe, args, splits, tokenizer, model, data_format, warnings)


LOSS_FIX = ("Raise data.max_length (or training.max_length), shorten those prompts, or give the rows a reply; "
            "`toolkit check RECIPE --show 3` prints examples as the trainer sees them.")


def trained_examples(split, name: str, args, tokenizer, count: int | None = None) -> list[TrainedExample]:
    """Rows of a split as SFTTrainer will see them (all, or the first `count`; a stream's first rows)."""
    rows = Dataset.from_list(head(split, count or PEEK)) if is_stream(split) else (
        split.select(range(min(count, len(split)))) if count else split)
    viewed = dataclasses.replace(args, max_length=None) if args.packing else args  # packing cuts no example
    return sft_examples(rows, name, viewed, tokenizer)


def examples(prepared: Prepared, count: int) -> list[TrainedExample]:
    """The first `count` training examples as the trainer will see them (toolkit check --show)."""
    return trained_examples(prepared.splits["train"], "train", prepared.args, prepared.tokenizer, count)


def describe(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, examples_in(prepared.splits["train"]))
    args = prepared.args
    return {**model_facts(prepared.recipe, prepared.model), "data_format": prepared.data_format,
            "loss_on": "assistant turns" if args.assistant_only_loss else
            ("completions" if prepared.data_format == "prompt-completion" else "all tokens"),
            "max_length": args.max_length, "packing": args.packing, "padding_free": args.padding_free,
            "splits": {name: {"examples": examples_in(split)} for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(args.output_dir),
            **({"warnings": prepared.warnings} if prepared.warnings else {})}


def build_trainer(prepared: Prepared) -> SFTTrainer:
    return SFTTrainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                      eval_dataset=eval_datasets(prepared.splits), processing_class=prepared.tokenizer)


def measure(trainer: SFTTrainer, prepared: Prepared, name: str) -> dict:
    """Held-out loss and perplexity on the tokens training is scored on, as the trainer tokenized the split."""
    return lm_metrics(trainer, evaluated_splits(trainer), [name])[name]
