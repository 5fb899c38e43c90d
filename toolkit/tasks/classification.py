"""Sequence classification (spam / not spam, sentiment, topics) for BERT-family and GPT-2 models.

Data: a text column and a label column (strings or integers). The label <-> id mapping is saved in the
model config, so the saved folder predicts label names. GPT-2 pools its last non-pad token, which is
why the tokenizer always gets a pad token distinct from EOS (toolkit.models.load_tokenizer).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
import transformers
from datasets import DatasetDict
from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer,
                          TrainingArguments)

from toolkit.data.splits import carved_by_split, load_splits, map_processes
from toolkit.errors import ToolkitError
from toolkit.data.labels import check_label_column, stray_labels
from toolkit.metrics.classification import argmax_logits, classification_metrics, confusion
from toolkit.metrics.per_example import ROWS, mean
from toolkit.models import max_positions, apply_lora, load_model, load_tokenizer, train_last_layers
from toolkit.plots import plot_confusion
from toolkit.recipe import Recipe
from toolkit.run import Outcome, per_example_plots
from toolkit.run_folder import CONFUSION, LOSSES, plot_file
from toolkit.tasks import TaskFacts
from toolkit.trainer_args import build_training_args, evaluate_only_with_validation, optimizer_steps
from toolkit.progress import length_stats, model_facts

FACTS = TaskFacts(
    config_class=TrainingArguments, method="sequence classification (transformers Trainer)",
    auto_class="AutoModelForSequenceClassification", pipeline_tag="text-classification",
    metrics=("accuracy", "precision", "recall", "f1", "loss"), uses_trl=False,
    # Length grouping removes most padding: 1.5-1.8x faster on CPU, no effect on what is learned.
    defaults={"eval_strategy": "epoch", "train_sampling_strategy": "group_by_length"},
    # Measured after training only: a run has always started from the model as loaded, with no evaluation
    # before its first step to draw from the random generator.
    measured_before=False, loss_title="Classification loss")


@dataclass
class Prepared:
    recipe: Recipe
    args: TrainingArguments
    splits: DatasetDict  # tokenized: input_ids, attention_mask, labels
    tokenizer: object
    model: object
    label_names: list[str]
    max_length: int


def label_names(splits: DatasetDict, recipe: Recipe) -> tuple[list, list[str]]:
    """(the label values in id order, their display names), checked against data.labels / num_labels."""
    spec, where = recipe.data, recipe.source
    check_label_column(splits, spec, f"{where}: data", lambda name: carved_by_split(recipe, name))
    seen: dict = {}
    for split_name, split in splits.items():
        for value in split[spec.label_column]:
            if isinstance(value, str):
                value = value.strip()
            seen.setdefault(value, split_name)
    if spec.labels is not None:
        values = [v.strip() if isinstance(v, str) else v for v in spec.labels]
        unknown = [v for v in seen if v not in values]
        if unknown:
            raise ToolkitError(f"{where}: data.labels: label {unknown[0]!r} (split '{seen[unknown[0]]}', column "
                               f"'{spec.label_column}') is not in data.labels {values}. Add it there or "
                               f"fix the data.")
    else:
        values = sorted(seen, key=lambda v: (isinstance(v, str), v))
    if len(values) < 2:
        raise ToolkitError(f"{where}: data.label_column: '{spec.label_column}' holds only {values}: classification needs "
                           f"at least two labels.")
    if spec.num_labels is not None and spec.num_labels != len(values):
        raise ToolkitError(f"{where}: data.num_labels is {spec.num_labels} but the data has {len(values)} "
                           f"labels {values}. Fix num_labels, or list the label set under data.labels.")
    return values, [str(v) for v in values]


def prepare(recipe: Recipe) -> Prepared:
    """Everything up to the first training step, checked in order of cost: recipe, output, data, model."""
    where = recipe.source
    args = build_training_args(recipe, FACTS.config_class, FACTS.defaults)

    spec = recipe.data
    splits = load_splits(recipe, {"text_column": spec.text_column, "label_column": spec.label_column},
                         filled=(spec.text_column, spec.label_column))
    values, names = label_names(splits, recipe)
    value_to_id = {value: i for i, value in enumerate(values)}
    evaluate_only_with_validation(args, splits, recipe)

    tokenizer = load_tokenizer(recipe.model, f"{where}: model", train_texts=list(splits["train"][spec.text_column]))
    transformers.set_seed(args.seed)
    model = load_model(AutoModelForSequenceClassification, recipe.model, tokenizer, f"{where}: model",
                       num_labels=len(names), id2label=dict(enumerate(names)),
                       label2id={name: i for i, name in enumerate(names)})
    # Its loss is a mean over the batch and ignores num_items_in_batch; left to guess from the forward's
    # **kwargs, the Trainer scales loss and gradients by the number of processes under DDP.
    model.accepts_loss_kwargs = False
    if recipe.model.trainable_layers is not None:
        train_last_layers(model, recipe.model.trainable_layers, f"{where}: model")
    if recipe.peft:
        model = apply_lora(model, recipe.peft, "SEQ_CLS", where)

    positions = max_positions(model)
    max_length = min(spec.max_length, positions or spec.max_length)

    def encode(batch):
        encoded = tokenizer([str(text) for text in batch[spec.text_column]], truncation=True,
                            max_length=max_length)
        encoded["labels"] = [value_to_id[v.strip() if isinstance(v, str) else v] for v in batch[spec.label_column]]
        return encoded

    tokenized = DatasetDict({
        name: split.map(encode, batched=True, remove_columns=split.column_names, desc=f"tokenizing {name}",
                        num_proc=map_processes(spec, len(splits["train"])))
        for name, split in splits.items()})
    return Prepared(recipe, args, tokenized, tokenizer, model, names, max_length)


def examples(prepared: Prepared, count: int) -> list:
    """The first `count` training examples as the model reads them, with their labels (toolkit check --show)."""
    from toolkit.trained_view import classification_examples

    train = prepared.splits["train"]
    return classification_examples(train.select(range(min(count, len(train)))), "train", prepared.label_names)


def describe(prepared: Prepared) -> dict:
    """What would run: the numbers `toolkit check` prints."""
    steps, per_step = optimizer_steps(prepared.args, len(prepared.splits["train"]))
    counts = Counter(prepared.label_names[i] for i in prepared.splits["train"]["labels"])
    strays = [] if prepared.recipe.data.labels else stray_labels(counts, prepared.recipe.data.label_column)
    return {**model_facts(prepared.recipe, prepared.model), "labels": prepared.label_names,
            **({"warnings": strays} if strays else {}),
            "max_length": prepared.max_length,
            "splits": {name: length_stats(split, prepared.max_length) for name, split in prepared.splits.items()},
            "optimizer_steps": steps, "examples_per_step": per_step, "output_dir": str(prepared.args.output_dir)}


def build_trainer(prepared: Prepared) -> Trainer:
    num_labels = len(prepared.label_names)

    def compute_metrics(output):  # the logged evaluations during training
        return classification_metrics(output.label_ids, argmax_logits(output.predictions), num_labels)

    return Trainer(model=prepared.model, args=prepared.args, train_dataset=prepared.splits["train"],
                   eval_dataset=prepared.splits.get("validation"), processing_class=prepared.tokenizer,
                   data_collator=DataCollatorWithPadding(prepared.tokenizer), compute_metrics=compute_metrics)


def measure(trainer: Trainer, prepared: Prepared, name: str) -> dict:
    """Accuracy, macro precision / recall / F1, loss and the confusion matrix over the whole split, from one
    prediction per example (saved as rows: the text as the model read it, true and predicted label,
    probabilities, loss)."""
    label_names, dataset = prepared.label_names, prepared.splits[name]
    output = trainer.predict(dataset, metric_key_prefix=name)
    logits = torch.as_tensor(output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions)
    labels = torch.as_tensor(output.label_ids)
    probabilities = logits.float().softmax(-1)
    losses = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
    predictions = logits.argmax(-1).numpy()
    metrics = classification_metrics(output.label_ids, predictions, len(label_names))
    metrics["loss"] = mean(losses.tolist())
    metrics["correct"], metrics["examples"] = int((predictions == output.label_ids).sum()), len(predictions)
    metrics["confusion_matrix"] = confusion(output.label_ids, predictions, len(label_names))
    texts = trainer.processing_class.batch_decode(list(dataset["input_ids"]), skip_special_tokens=True)
    metrics[ROWS] = [{"text": text, "label": label_names[int(label)], "predicted": label_names[int(predicted)],
                      "correct": bool(label == predicted), "loss": float(loss),
                      "probabilities": {n: round(float(p), 6) for n, p in zip(label_names, row, strict=True)}}
                     for text, label, predicted, loss, row in
                     zip(texts, output.label_ids, predictions, losses, probabilities, strict=True)]
    return metrics


def outputs(outcome: Outcome) -> dict:
    """A confusion matrix per held-out split, and how the loss spreads over its examples (a few confident mistakes
    and many near-misses can share one accuracy)."""
    artifacts = {}
    for name, values in outcome.after.items():
        artifacts[f"confusion_{name}"] = plot_confusion(values["confusion_matrix"], outcome.prepared.label_names,
                                                        plot_file(outcome.output_dir, CONFUSION, name),
                                                        f"Confusion matrix ({name})")
    return {**artifacts, **per_example_plots(outcome, LOSSES, "Loss per held-out example ({split})",
                                             "cross-entropy of the true label", "loss")}


def summary(outcome: Outcome) -> list[str]:
    lines = []
    for name, m in outcome.after.items():
        lines.append(f"{name}: accuracy {m['accuracy']:.4f}, macro-F1 {m['f1']:.4f}, precision {m['precision']:.4f}, "
                     f"recall {m['recall']:.4f}")
        lines += collapse_warning(name, m["confusion_matrix"], outcome.prepared.label_names)
    return lines


def collapse_warning(name: str, matrix: list[list[int]], label_names: list[str]) -> list[str]:
    """A model that predicts one class for every row of a split that holds several learned nothing but the prior:
    said, with what usually helps (too few steps is the common cause on small data)."""
    predicted = [sum(row[column] for row in matrix) for column in range(len(label_names))]
    present = sum(1 for row in matrix if sum(row))
    if present < 2 or sum(1 for count in predicted if count) != 1:
        return []
    only = label_names[next(i for i, count in enumerate(predicted) if count)]
    return [f"warning: {name}: every prediction is '{only}': the model learned only which label is common. Train "
            f"longer (training.num_train_epochs), or raise training.learning_rate; `toolkit check` says how many "
            f"optimizer steps the run takes."]
