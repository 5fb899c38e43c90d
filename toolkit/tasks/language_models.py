"""What the language-model tasks share (pretrain, mlm; sft reports the same way): documents joined with a
separator and cut into blocks, the model and tokenizer, held-out loss and perplexity before and after, and how
they are plotted and said. A .txt file is one document unless data.sample_by says otherwise (TXT_UNIT)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import transformers
from datasets import DatasetDict
from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

from toolkit.data.corpus import clean_splits
from toolkit.data.blocks import is_tokenized, lm_blocks, read_lm_splits, txt_reading
from toolkit.data.splits import SplitPlan, map_processes
from toolkit.errors import ToolkitError
from toolkit.init_check import stall_warning
from toolkit.metrics.language_model import lm_metrics
from toolkit.models import max_positions, apply_lora, load_model, load_tokenizer
from toolkit.owned_folder import MARK, claim, entries, is_ours, require_ours
from toolkit.data.paths import local_path
from toolkit.recipe import Recipe, TokenizerSpec
from toolkit.run import Outcome, per_example_plots
from toolkit.run_folder import LOSSES
from toolkit.data.token_shards import MANIFEST, check_fit, fingerprint, manifest_of, write_split
from toolkit.trainer_args import build_training_args, evaluate_only_with_validation, optimizer_steps
from toolkit.progress import model_facts
from toolkit.data.streaming import examples, is_stream, texts_of

TXT_UNIT = "document"  # raw text is read whole: a story's lines or paragraphs are not separate documents


@dataclass
class Prepared:
    recipe: Recipe
    args: TrainingArguments
    splits: DatasetDict  # blocks of input_ids
    tokenizer: object
    model: object
    block_size: int
    corpus_report: dict
    reading: dict  # how the data was read and split, and how many documents each split holds text of


def lm_texts(recipe: Recipe) -> tuple[DatasetDict, SplitPlan, dict, object]:
    """The documents of each split (cleaned when data.clean says so), how held-out splits are made, the
    cleaning report, and the tokenizer (trained on train's texts when the recipe asks for a new one)."""
    where = recipe.source
    splits, plan = read_lm_splits(recipe, TXT_UNIT)
    shards = [name for name, split in splits.items() if is_tokenized(split)]
    if shards and recipe.data.clean:
        raise ToolkitError(f"{where}: data.clean: split '{shards[0]}' is token shards, cleaned (or not) before "
                           f"they were written. Drop data.clean.")
    if shards and isinstance(recipe.model.tokenizer, TokenizerSpec):
        raise ToolkitError(f"{where}: model.tokenizer: split '{shards[0]}' is token shards, so the tokenizer is the "
                           f"one that wrote them: set model.tokenizer to the shards' tokenizer folder.")
    splits, report = clean_splits(splits, recipe.data.text_column, recipe.data.clean, where)
    texts = None if shards else texts_of(splits["train"], recipe.data.text_column)
    return splits, plan, report, load_tokenizer(recipe.model, f"{where}: model", train_texts=texts)


def token_blocks(recipe: Recipe, splits: DatasetDict, plan: SplitPlan, tokenizer, block_size: int,
                 separator: str) -> tuple[DatasetDict, dict]:
    """Blocks of block_size tokens per split, and how many documents each holds text of; token shards
    pass as written, once they are seen to fit this tokenizer, block size and separator."""
    where = f"{recipe.source}: data"
    for name, split in splits.items():
        if is_tokenized(split):
            path = local_path(getattr(recipe.data, name) or recipe.data.train, where)
            check_fit(manifest_of(path), tokenizer, block_size, separator, where, name)
    blocks, documents = lm_blocks(splits, plan, tokenizer, recipe.data.text_column, block_size,
                                  getattr(tokenizer, f"{separator}_token_id"), where,
                                  map_processes(recipe.data, examples(splits["train"])))
    for name, split in blocks.items():
        if not is_stream(split) and len(split) == 0:
            raise ToolkitError(f"{where}: split '{name}' holds fewer than {block_size} tokens, less than one "
                               f"block. Give it more text or lower data.max_length.")
    return blocks, documents


def prepare_lm(recipe: Recipe, config_class, defaults: dict, auto_class, separator: str) -> Prepared:
    """Shared by pretrain and mlm: checked recipe, cleaned corpus, tokenizer, model, blocks."""
    where = recipe.source
    args = build_training_args(recipe, config_class, defaults)
    splits, plan, report, tokenizer = lm_texts(recipe)
    transformers.set_seed(args.seed)
    model = load_model(auto_class, recipe.model, tokenizer, f"{where}: model")
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "CAUSAL_LM", where)
    positions = max_positions(model)
    block_size = min(recipe.data.max_length, positions or recipe.data.max_length)
    blocks, documents = token_blocks(recipe, splits, plan, tokenizer, block_size, separator)
    evaluate_only_with_validation(args, blocks, recipe)  # after the blocks: validation may be carved from them
    reading = {"txt": txt_reading(recipe.data, TXT_UNIT), "split": plan.summary(), "documents": documents}
    return Prepared(recipe, args, blocks, tokenizer, model, block_size, report, reading)


def tokenize_corpus(recipe: Recipe, output: Path, separator: str, overwrite: bool = False) -> dict:
    """Write the recipe's token blocks as shards (toolkit.data.token_shards) in `output`: read, cleaned and cut
    exactly as training would cut them at data.max_length, with the tokenizer saved beside them. Written
    in a staging folder and moved into place at the end, so a failed run leaves `output` as it was."""
    import shutil

    output = Path(output).expanduser()
    require_ours(output, "token shards", [recipe.source, recipe.data.train, recipe.data.validation, recipe.data.test])
    if is_ours(output) and any(name != MARK for name in entries(output)) and not overwrite:
        raise ToolkitError(f"{output}: holds earlier token shards. Choose another folder, or pass --overwrite to "
                           f"replace them.")
    splits, plan, report, tokenizer = lm_texts(recipe)
    blocks, documents = token_blocks(recipe, splits, plan, tokenizer, recipe.data.max_length, separator)
    staging = output.with_name(f".{output.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    claim(staging)  # marked first: the folder it becomes is the toolkit's to replace later
    tokenizer.save_pretrained(staging / "tokenizer")
    written = {}
    for name, split in blocks.items():
        count = write_split(split, staging / name)
        written[name] = {"blocks": count, "tokens": count * recipe.data.max_length, "documents": documents[name]}
        manifest = {"block_size": recipe.data.max_length, "separator": separator,
                    "fingerprint": fingerprint(tokenizer), "tokenizer": str(output / "tokenizer"),
                    "recipe": recipe.source, **written[name]}
        (staging / name / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    summary = {"output": str(output), "tokenizer": str(output / "tokenizer"), "splits": written,
               **({"corpus_cleaning": report} if report else {})}
    (staging / "tokenize.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if output.exists():  # empty, or shards the toolkit wrote (require_ours above)
        shutil.rmtree(output)
    staging.rename(output)
    return summary


def describe_lm(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, examples(prepared.splits["train"]))
    reading = prepared.reading
    facts = {**model_facts(prepared.recipe, prepared.model), "block_size": prepared.block_size,
             "vocab_size": len(prepared.tokenizer),
             "data": {key: reading[key] for key in ("txt", "split") if reading[key]},
             # examples are blocks of block_size tokens; documents: how many documents they hold text of
             "splits": {name: {"examples": examples(split), "tokens": "streamed" if is_stream(split) else
                               len(split) * prepared.block_size, "documents": reading["documents"][name]}
                        for name, split in prepared.splits.items()},
             "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}
    if prepared.corpus_report:
        facts["corpus_cleaning"] = prepared.corpus_report
    warning = stall_warning(prepared.recipe, facts["parameters"], per_step * prepared.block_size)
    if warning:
        facts["warnings"] = [warning]
    return facts


def build_lm_trainer(prepared: Prepared, mlm: bool) -> Trainer:
    """The Trainer of pretrain (mlm False: each next token) and mlm (a share of tokens masked and predicted)."""
    collator = DataCollatorForLanguageModeling(prepared.tokenizer, mlm=mlm,
                                               mlm_probability=getattr(prepared.args, "mlm_probability", 0.15))
    return Trainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                   eval_dataset=prepared.splits.get("validation"), processing_class=prepared.tokenizer,
                   data_collator=collator)


def measure_blocks(trainer, prepared: Prepared, name: str) -> dict:
    """Held-out loss and perplexity of a split of blocks (toolkit.metrics.language_model)."""
    return lm_metrics(trainer, prepared.splits, [name])[name]


def loss_plots(outcome: Outcome) -> dict:
    """How the loss spreads over the held-out examples: each one's before and after."""
    return per_example_plots(outcome, LOSSES, "Loss per held-out example ({split})", "mean loss per scored token",
                             "loss")


def loss_summary(outcome: Outcome) -> list[str]:
    lines = []
    for name, values in outcome.after.items():
        was = outcome.before.get(name)
        change = f" (before training {was['loss']:.3f})" if was else ""
        lines.append(f"{name}: loss {values['loss']:.3f}{change}, perplexity {values['perplexity']:.1f}")
    return lines


def cleaning_metrics(outcome: Outcome) -> dict:
    report = outcome.prepared.corpus_report
    return {"corpus_cleaning": report} if report else {}
