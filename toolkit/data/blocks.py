"""Documents cut into token blocks for pretrain and mlm: joined with a separator, cut at the block size, each block
knowing which documents it holds text of; held-out blocks carved from train's when there are too few documents."""

from __future__ import annotations

import bisect
import itertools

from datasets import DatasetDict

from toolkit.data.splits import (TXT_UNITS, SplitPlan, carves_every_split, finish_splits, plan_split, read_splits,
                                 reads_txt, require_columns)
from toolkit.data.streaming import columns_of, is_stream
from toolkit.errors import ToolkitError
from toolkit.recipe import DataSpec, Recipe


def read_lm_splits(recipe: Recipe, txt_default: str) -> tuple[DatasetDict, SplitPlan]:
    """pretrain / mlm: the documents of each split, and how the held-out splits are made.

    Whole documents are carved when train has enough to give every held-out split at least one (and keep
    one); with fewer (one story.txt read as one document) no row split can work, so the plan carves
    train's token blocks instead, once tokenized (lm_blocks): validation and test are then contiguous
    parts of the text, the last parts of it when data.split.shuffle is false.
    """
    where = f"{recipe.source}: data"
    splits = read_splits(recipe, txt_default)
    require_columns(DatasetDict({name: split for name, split in splits.items() if not is_tokenized(split)}),
                    {"text_column": recipe.data.text_column}, where)
    plan = plan_split(splits, recipe.data, recipe.training.get("seed", 42), where)
    if plan.shares and not carves_every_split(len(splits["train"]), plan.shares):
        plan.unit = "blocks"
    return finish_splits(splits, recipe, carve=plan.unit == "rows"), plan


def is_tokenized(split) -> bool:
    """A split read from token shards (toolkit.data.token_shards): blocks of input_ids, no text."""
    return columns_of(split) == ["input_ids", "attention_mask"]


def lm_blocks(splits: DatasetDict, plan: SplitPlan, tokenizer, column: str, block_size: int,
              separator_id: int | None, where: str, num_proc: int | None = None) -> tuple[DatasetDict, dict[str, int]]:
    """Token blocks per split (validation/test carved from train's blocks when the plan says so), and how
    many documents each split holds text of."""
    shards = {name: split for name, split in splits.items() if is_tokenized(split)}
    texts = DatasetDict({name: split for name, split in splits.items() if name not in shards})
    spanned = DatasetDict({**spanned_blocks(texts, tokenizer, column, block_size, separator_id, num_proc), **shards})
    if plan.unit == "blocks":
        if not carves_every_split(len(spanned["train"]), plan.shares):
            raise ToolkitError(f"{where}.split: train holds {len(spanned['train'])} blocks of {block_size} tokens, too "
                               f"few to carve {', '.join(plan.shares)} ({plan.shares}) from. Give it more text, "
                               f"lower data.max_length, or lower the fractions.")
        plan.blocks = len(spanned["train"])
        spanned = DatasetDict({**spanned, **plan.carve(spanned["train"])})
    documents = {name: "in token shards" if name in shards else "streamed" if is_stream(split) else
                 documents_spanned(list(split[SPAN])) for name, split in spanned.items()}
    return DatasetDict({name: split if is_stream(split) or name in shards else split.remove_columns(SPAN)
                        for name, split in spanned.items()}), documents


SPAN = "document_span"  # per block: [first, last] row of its split whose tokens it holds


def spanned_blocks(splits: DatasetDict, tokenizer, column: str, block_size: int,
                   separator_id: int | None, num_proc: int | None = None) -> DatasetDict:
    """Tokenize each document, join them (each followed by `separator_id`, e.g. EOS) and cut the stream
    into blocks of `block_size` tokens, each with the span of documents it holds (SPAN). No padding, so no
    compute is spent on it; the last partial block of every 1,000 documents is dropped. Tokenizing uses
    `num_proc` processes; cutting stays in one, so the blocks do not depend on how many there were."""

    def encode(batch):
        texts = [str(text) if text is not None and str(text).strip() else "" for text in batch[column]]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        # a blank document adds nothing: a lone separator would teach the model to end a text it never began
        return {"input_ids": [row + [separator_id] if row and separator_id is not None else row for row in ids]}

    def group(batch, indices):
        stream = [token for row in batch["input_ids"] for token in row]
        ends = list(itertools.accumulate(len(row) for row in batch["input_ids"]))  # where each document ends

        def document_at(position: int) -> int:
            return indices[bisect.bisect_right(ends, position)]

        starts = range(0, len(stream) // block_size * block_size, block_size)
        return {"input_ids": [stream[start:start + block_size] for start in starts],
                "attention_mask": [[1] * block_size for _ in starts],
                SPAN: [[document_at(start), document_at(start + block_size - 1)] for start in starts]}

    out = {}
    for name, split in splits.items():
        if is_stream(split):  # tokenized and cut as the trainer reads: no spans, as the documents are not counted
            encoded = split.map(encode, batched=True, remove_columns=columns_of(split))
            out[name] = encoded.map(lambda batch, indices: {key: value for key, value in group(batch, indices).items()
                                                            if key != SPAN}, batched=True, batch_size=1000,
                                    with_indices=True)
            continue
        encoded = split.map(encode, batched=True, remove_columns=split.column_names, desc=f"tokenizing {name}",
                            num_proc=num_proc)
        out[name] = encoded.map(group, batched=True, batch_size=1000, with_indices=True,
                                desc=f"blocks of {block_size} ({name})")
    return DatasetDict(out)


def text_blocks(splits: DatasetDict, tokenizer, column: str, block_size: int, separator_id: int | None,
                num_proc: int | None = None) -> DatasetDict:
    """Language-model data: blocks of `block_size` tokens from the joined documents (see spanned_blocks)."""
    blocks = spanned_blocks(splits, tokenizer, column, block_size, separator_id, num_proc)
    return DatasetDict({name: split if is_stream(split) else split.remove_columns(SPAN) for name, split in blocks.items()})


def documents_spanned(spans: list[list[int]]) -> int:
    """How many documents a set of blocks holds text of: the size of the union of their [first, last]
    document ranges (a document can fill many blocks, a block hold many documents)."""
    count, reach = 0, -1
    for first, last in sorted(spans):
        first = max(first, reach + 1)
        if last >= first:
            count += last - first + 1
            reach = last
    return count


def txt_reading(spec: DataSpec, task_default: str) -> str | None:
    """What one document of a .txt file is, and who chose it, for `toolkit check`; None without .txt files."""
    if not reads_txt(spec):
        return None
    unit = spec.sample_by or task_default
    chosen = "from data.sample_by" if spec.sample_by else "the task default"
    dropped = "" if unit == "document" else ", blank ones dropped"
    return f"{TXT_UNITS[unit]}{dropped} (sample_by {unit}, {chosen})"
