"""Tokenize once, train many: a corpus's token blocks written as parquet shards, one folder per split, beside the
tokenizer that made them. pretrain and mlm read such a folder as a split (streamed or whole) and train on its
blocks as they are, without tokenizing again.

    DIR/tokenizer/               the tokenizer (trained by the recipe, or the one it names)
    DIR/<split>/NNNNN.parquet    input_ids and attention_mask, BLOCKS_PER_SHARD blocks each
    DIR/<split>/token_shards.json   block size, separator, tokenizer fingerprint, blocks, documents
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from toolkit.errors import ToolkitError

MANIFEST = "token_shards.json"
BLOCKS_PER_SHARD = 10_000


def is_shard_folder(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def manifest_of(path: Path) -> dict:
    return json.loads((path / MANIFEST).read_text(encoding="utf-8"))


def read_shards(path: Path, streaming: bool):
    import datasets

    files = sorted(str(file) for file in path.glob("*.parquet"))
    if not files:
        raise ToolkitError(f"{path}: a token-shard folder without shards (*.parquet). Write it again with "
                           f"`toolkit tokenize`.")
    return datasets.load_dataset("parquet", data_files=files, split="train", streaming=streaming)


def fingerprint(tokenizer) -> str:
    """The same ids for the same text: the vocabulary, the special tokens and the normalisation, hashed."""
    state = json.dumps([sorted(tokenizer.get_vocab().items()), tokenizer.all_special_tokens,
                        tokenizer.backend_tokenizer.to_str() if hasattr(tokenizer, "backend_tokenizer") else None])
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def check_fit(manifest: dict, tokenizer, block_size: int, separator: str, where: str, split: str) -> None:
    """Shards train as written only with their own tokenizer, block size and separator."""
    folder = manifest.get("tokenizer", "its tokenizer folder")
    if manifest["fingerprint"] != fingerprint(tokenizer):
        raise ToolkitError(f"{where}: split '{split}' is token shards made with another tokenizer. Set "
                           f"model.tokenizer to {folder}, the one that made them.")
    if manifest["block_size"] != block_size:
        raise ToolkitError(f"{where}: split '{split}' holds blocks of {manifest['block_size']} tokens and this run "
                           f"cuts {block_size}. Set data.max_length: {manifest['block_size']} (a model with fewer "
                           f"positions needs shards written for it).")
    if manifest["separator"] != separator:
        raise ToolkitError(f"{where}: split '{split}' joins documents with {manifest['separator']}, written for "
                           f"another task; this task joins them with {separator}. Tokenize again for it.")


def write_split(blocks, folder: Path) -> int:
    """The blocks (a Dataset or a stream) as parquet shards, written as they come; returns how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    batch, shard, count = [], 0, 0

    def flush():
        nonlocal batch, shard
        if batch:
            table = pa.table({"input_ids": [row["input_ids"] for row in batch],
                              "attention_mask": [row["attention_mask"] for row in batch]})
            pq.write_table(table, folder / f"{shard:05d}.parquet")
            batch, shard = [], shard + 1

    for row in blocks:
        batch.append(row)
        count += 1
        if len(batch) == BLOCKS_PER_SHARD:
            flush()
    flush()
    return count
