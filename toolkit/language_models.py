"""What the language-model tasks share (pretrain, mlm; sft writes its outputs the same way): documents joined
with a separator and cut into blocks, the model and tokenizer, training with samples, held-out loss and
perplexity before and after, and the files a run leaves. A .txt file is one document unless data.sample_by
says otherwise (TXT_UNIT)."""

from __future__ import annotations

from dataclasses import dataclass

import transformers
from datasets import DatasetDict
from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

from toolkit.corpus import clean_splits
from toolkit.data import lm_blocks, read_lm_splits, txt_reading
from toolkit.errors import ToolkitError
from toolkit.init_check import stall_warning
from toolkit.lm_metrics import lm_metrics
from toolkit.per_example import ROWS
from toolkit.models import max_positions, apply_lora, load_model, load_tokenizer
from toolkit.plots import plot_loss, plot_values
from toolkit.recipe import Recipe
from toolkit.trainer_args import build_training_args, evaluate_only_with_validation, optimizer_steps
from toolkit.progress import announce, model_facts, say
from toolkit.run import TrainResult, finish_run, save_model, train_loss, train_model
from toolkit.samples import SampleCallback

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


def prepare_lm(recipe: Recipe, config_class, defaults: dict, auto_class, separator: str) -> Prepared:
    """Shared by pretrain and mlm: checked recipe, cleaned corpus, tokenizer, model, blocks."""
    where = recipe.source
    args = build_training_args(recipe, config_class, defaults)
    column = recipe.data.text_column
    splits, plan = read_lm_splits(recipe, TXT_UNIT)
    splits, report = clean_splits(splits, column, recipe.data.clean, where)

    tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=list(splits["train"][column]))
    transformers.set_seed(args.seed)
    model = load_model(auto_class, recipe.model, tokenizer, f"{where}: model")
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "CAUSAL_LM", where)
    positions = max_positions(model)
    block_size = min(recipe.data.max_length, positions or recipe.data.max_length)
    separator_id = getattr(tokenizer, f"{separator}_token_id")
    blocks, documents = lm_blocks(splits, plan, tokenizer, column, block_size, separator_id, f"{where}: data")
    for name, split in blocks.items():
        if len(split) == 0:
            raise ToolkitError(f"{where}: data: split '{name}' holds fewer than {block_size} tokens, less than one "
                               f"block. Give it more text or lower data.max_length.")
    evaluate_only_with_validation(args, blocks, recipe)  # after the blocks: validation may be carved from them
    reading = {"txt": txt_reading(recipe.data, TXT_UNIT), "split": plan.summary(), "documents": documents}
    return Prepared(recipe, args, blocks, tokenizer, model, block_size, report, reading)


def describe_lm(prepared: Prepared) -> dict:
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    reading = prepared.reading
    facts = {**model_facts(prepared.recipe, prepared.model), "block_size": prepared.block_size,
             "vocab_size": len(prepared.tokenizer),
             "data": {key: reading[key] for key in ("txt", "split") if reading[key]},
             # examples are blocks of block_size tokens; documents: how many documents they hold text of
             "splits": {name: {"examples": len(split), "tokens": len(split) * prepared.block_size,
                               "documents": reading["documents"][name]}
                        for name, split in prepared.splits.items()},
             "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}
    if prepared.corpus_report:
        facts["corpus_cleaning"] = prepared.corpus_report
    warning = stall_warning(prepared.recipe, facts["parameters"], per_step * prepared.block_size)
    if warning:
        facts["warnings"] = [warning]
    return facts


def run_lm(recipe: Recipe, prepared: Prepared, collator, chat: bool | None = False,
           sample: bool = True) -> tuple[Trainer, dict, dict, SampleCallback | None]:
    """Train a prepared language model; returns the trainer, metrics before and after, and the samples."""
    announce(describe_lm(prepared))
    callback = SampleCallback(prepared.tokenizer, list(recipe.eval.prompts), recipe.eval.max_new_tokens, chat,
                              temperature=0.8) if sample and recipe.eval.prompts else None
    trainer = Trainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                      eval_dataset=prepared.splits.get("validation"), processing_class=prepared.tokenizer,
                      data_collator=collator)
    before = lm_metrics(trainer, prepared.splits, ["validation", "test"])
    train_with_samples(trainer, callback, prepared.model)
    transformers.set_seed(prepared.args.seed)  # masked LM draws its masks: the same ones `toolkit eval` draws
    after = lm_metrics(trainer, prepared.splits, list(recipe.eval.splits))
    return trainer, before, after, callback


def train_with_samples(trainer, callback: SampleCallback | None, model) -> None:
    """Train, with samples of the prompts before the first step, at each evaluation, and of the model as
    trained (whatever the last evaluation saw). Shared by pretrain, mlm and sft."""
    if callback:
        trainer.add_callback(callback)  # after the "before" evaluation, which it would otherwise sample too
        if trainer.is_world_process_zero():
            callback.sample(model, 0, "before")
    train_model(trainer)
    if callback and trainer.is_world_process_zero():
        callback.sample(model, trainer.state.global_step, f"step {trainer.state.global_step}")


def write_outputs(recipe: Recipe, prepared, trainer: Trainer, before: dict, after: dict, callback,
                  started: float, title: str, extra: dict | None = None,
                  extra_metrics: dict | None = None) -> TrainResult:
    """Model, metrics, loss curve and samples; `extra` maps artifact names to files already written."""
    output_dir = recipe.output_dir
    save_model(trainer, prepared.tokenizer, output_dir)
    metrics = {"train_loss": train_loss(trainer), "before": before, **after,
               **(extra_metrics or {})}
    artifacts = dict(extra or {})
    if trainer.is_world_process_zero():
        if plot_loss(trainer.state.log_history, output_dir / "loss_curve.png", title):
            artifacts["loss_curve"] = output_dir / "loss_curve.png"
        if callback and callback.save(output_dir / "samples.jsonl"):
            artifacts["samples"] = output_dir / "samples.jsonl"
        for name, values in after.items():  # how the loss spreads over the held-out examples, not just its mean
            path = plot_values({"before": [row["loss"] for row in before.get(name, {}).get(ROWS, [])],
                                "after": [row["loss"] for row in values[ROWS]]},
                               output_dir / f"losses_{name}.png", f"Loss per held-out example ({name})",
                               "mean loss per scored token")
            if path:
                artifacts[f"losses_{name}"] = path
    result = finish_run(recipe, trainer, metrics, artifacts, started)
    for name, values in after.items():
        was = before.get(name)
        change = f" (before training {was['loss']:.3f})" if was else ""
        say(f"{name}: loss {values['loss']:.3f}{change}, perplexity {values['perplexity']:.1f}")
    say(f"outputs in {output_dir}/")
    return result


def evaluate_lm(prepared: Prepared, names: list[str], mlm: bool = False) -> dict:
    """Loss and perplexity of a saved model on held-out blocks (toolkit eval)."""
    collator = DataCollatorForLanguageModeling(prepared.tokenizer, mlm=mlm,
                                               mlm_probability=getattr(prepared.args, "mlm_probability", 0.15))
    transformers.set_seed(prepared.args.seed)  # masked LM: the same masks on every call
    trainer = Trainer(model=prepared.model, args=prepared.args, processing_class=prepared.tokenizer,
                      data_collator=collator)
    return lm_metrics(trainer, prepared.splits, names)


def cleaning_metrics(prepared: Prepared) -> dict:
    return {"corpus_cleaning": prepared.corpus_report} if prepared.corpus_report else {}
