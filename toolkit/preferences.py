"""Preference pairs for reward models and DPO, in the shapes public preference sets use:

- `chosen` + `rejected` (the prompt implicit in both), or `prompt` + `chosen` + `rejected`;
- `instruction` (+ `input`) + `chosen` + `rejected`, the usual preference JSON, made into prompt + replies;
- conversational values (lists of {role, content} turns) pass through as they are.

A model with a chat template gets the pairs as conversations (prompt = a user turn, replies = assistant
turns) so TRL formats them with the template; otherwise as plain text.
"""

from __future__ import annotations

from datasets import DatasetDict

from toolkit.chat import alpaca_to_messages
from toolkit.data import finish_splits, read_splits, require_columns, require_values
from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe


def detect(columns: list[str], where: str) -> str:
    if "chosen" in columns and "rejected" in columns:
        if "prompt" in columns:
            return "explicit"
        return "instruction" if "instruction" in columns else "implicit"
    raise ToolkitError(f"{where}: preference data needs 'chosen' and 'rejected' columns (with 'prompt', or "
                       f"'instruction' and optional 'input'). Columns here: {', '.join(columns)}.")


def load_pairs(recipe: Recipe, conversational: bool) -> tuple[DatasetDict, str]:
    """Read, check and convert the recipe's preference data; returns the splits and the shape found."""
    where = f"{recipe.source}: data"
    splits = read_splits(recipe)
    shape = detect(splits["train"].column_names, where)
    needed = {"explicit": ("prompt", "chosen", "rejected"), "instruction": ("instruction", "chosen", "rejected"),
              "implicit": ("chosen", "rejected")}[shape]
    require_columns(splits, {f"{c} column": c for c in needed}, where)
    require_values(splits, needed, where)

    def convert(row):
        prompt = row.get("prompt")
        if shape == "instruction":
            prompt = alpaca_to_messages(row["instruction"], row.get("input"), None)[0]["content"]
        out = {"chosen": row["chosen"], "rejected": row["rejected"]}
        if prompt is not None:
            out["prompt"] = prompt
        if not conversational and isinstance(out.get("prompt"), str) and not out["prompt"][-1:].isspace():
            out["prompt"] += "\n"  # TRL joins prompt and reply as they are: keep them apart
        if conversational:
            if isinstance(out.get("prompt"), str):
                out["prompt"] = [{"role": "user", "content": out["prompt"]}]
            for key in ("chosen", "rejected"):
                if isinstance(out[key], str):
                    out[key] = [{"role": "assistant", "content": out[key]}]
        return out

    keep = ["prompt", "chosen", "rejected"] if shape != "implicit" else ["chosen", "rejected"]
    converted = DatasetDict({name: split.map(convert, remove_columns=split.column_names).select_columns(keep)
                             for name, split in splits.items()})
    return finish_splits(converted, recipe), shape
