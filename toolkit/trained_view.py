"""What a run trains on: each example's tokens as the trainer prepares them, and which positions carry loss.

The tokens and labels come from TRL's own dataset preparation (the trainer's `_prepare_dataset`, called here
before any model loads, with the trainer's own chat-template and completion-loss choices), so `toolkit check
--show` prints, and the refusal of examples with nothing to learn counts, exactly what training will see.
max_length is applied afterwards, by the same slice TRL applies, so a reply that truncation removes is seen
and named instead of silently dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import SimpleNamespace

from toolkit.errors import ToolkitError

IGNORED = -100
REFUSED_SHARE = 0.05  # above this share of a split with nothing to learn, the run is refused; below, a warning


@dataclass
class Part:
    """A run of tokens of one example: a sequence (SFT), a prompt, chosen or rejected (pairs), a text (classification)."""

    name: str
    ids: list[int]
    trained: list[bool]  # per token: does it carry loss
    cut: int = 0  # tokens max_length removed from this part
    trained_before_cut: int | None = None  # tokens that carried loss before max_length cut the part


@dataclass
class TrainedExample:
    split: str
    row: int  # 1-based, the row of the split as read (the file's row when read from its own file)
    parts: list[Part] = field(default_factory=list)
    label: str | None = None  # classification: the example's label

    @property
    def trained_tokens(self) -> int:
        return sum(sum(part.trained) for part in self.parts)


def sft_shim(args, tokenizer, sample: dict) -> SimpleNamespace:
    """The attributes SFTTrainer's dataset preparation reads, set as SFTTrainer.__init__ sets them."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = None
    if args.assistant_only_loss and not has_generation_markers(tokenizer.chat_template):
        template = get_training_chat_template(tokenizer)
    completion_only = args.completion_only_loss
    if completion_only is None:
        completion_only = "prompt" in sample and "completion" in sample
    return SimpleNamespace(chat_template=template, completion_only_loss=completion_only, _tokenizer=tokenizer,
                           args=args, _is_vision_dataset=False, _signature_columns=None)


def truncated(values: list, max_length: int | None, mode: str) -> list:
    if max_length is None:
        return values
    return values[:max_length] if mode == "keep_start" else values[-max_length:]


def untruncated(args):
    """The SFT config TRL's preparation runs with here: nothing cut or dropped (max_length is applied after),
    rows in order, one process."""
    return dataclasses.replace(args, max_length=None, packing=False, shuffle_dataset=False, dataset_num_proc=None)


def sft_examples(split, name: str, args, tokenizer) -> list[TrainedExample]:
    """Every row of an SFT split as the trainer will see it, rows with nothing to learn included."""
    from trl import SFTTrainer

    whole = untruncated(args)
    sample = next(iter(split))
    try:
        shim = sft_shim(args, tokenizer, sample)
    except ValueError as error:  # TRL patches the templates it knows; this one it cannot
        raise ToolkitError(f"split '{name}', every row (row 1 first): the chat template marks no assistant tokens "
                           f"({{% generation %}} ... {{% endgeneration %}}), so with assistant_only_loss no token "
                           f"would carry loss, and TRL cannot patch this template ({error}). Add the marks around "
                           f"the assistant's reply in the template, or set training.assistant_only_loss: false to "
                           f"train on every token.") from error
    from jinja2 import TemplateError

    try:
        prepared = SFTTrainer._prepare_dataset(shim, split, tokenizer, whole, False, None, name)
    except TemplateError as error:  # a template that refuses a conversation (raise_exception) or breaks
        where = getattr(tokenizer, "name_or_path", None) or "the tokenizer"
        raise ToolkitError(f"split '{name}': the chat template of {where} refused a conversation ({error}). Fix the "
                           f"template (chat_template.jinja in that folder) or the rows' roles.") from error
    except RuntimeError as error:  # TRL: an example without assistant tokens; find which, to name it
        if "no assistant tokens" not in str(error):
            raise
        raise ToolkitError(no_assistant_message(split, name, shim, whole, tokenizer)) from error
    examples = []
    for row, tokens in enumerate(prepared, 1):
        ids, labels = tokens["input_ids"], tokens["labels"]
        kept_ids = truncated(ids, args.max_length, args.truncation_mode)
        kept_labels = truncated(labels, args.max_length, args.truncation_mode)
        trained = [label != IGNORED for label in kept_labels]
        cut, before_cut = len(ids) - len(kept_ids), sum(label != IGNORED for label in labels)
        examples.append(TrainedExample(name, row, [Part("sequence", kept_ids, trained, cut, before_cut)]))
    return examples


def no_assistant_message(split, name: str, shim, whole, tokenizer) -> str:
    """Which row TRL refused for having no assistant token: each is prepared alone until one fails."""
    from trl import SFTTrainer

    for row in range(len(split)):
        try:
            SFTTrainer._prepare_dataset(shim, split.select([row]), tokenizer, whole, False, None, name)
        except RuntimeError:
            return (f"split '{name}' row {row + 1}: no assistant token carries loss (assistant_only_loss), so "
                    f"there is nothing to learn from it: an empty reply, or a chat template without "
                    f"{{% generation %}} marks. Give the row a reply, fix the template, or set "
                    f"training.assistant_only_loss: false.")
    return f"split '{name}': an example has no assistant token to learn from (assistant_only_loss)."


def pair_examples(split, name: str, args, tokenizer, trainer_class) -> list[TrainedExample]:
    """Preference pairs as DPO's preparation tokenizes them: prompt (context), chosen and rejected (trained), each
    pair cut to max_length as the collator cuts prompt + reply."""
    shim = SimpleNamespace(_tokenizer=tokenizer, args=args, _is_vision_dataset=False, _signature_columns=None)
    whole = dataclasses.replace(args, max_length=None, dataset_num_proc=None)
    prepared = trainer_class._prepare_dataset(shim, split, tokenizer, whole, name)
    examples = []
    for row, tokens in enumerate(prepared, 1):
        prompt = tokens["prompt_ids"]
        parts = [Part("prompt", prompt, [False] * len(prompt))]
        for reply in ("chosen", "rejected"):
            ids = tokens[f"{reply}_ids"]
            whole_sequence = truncated(prompt + ids, args.max_length, args.truncation_mode)
            kept = len(whole_sequence) - (len(prompt) if args.truncation_mode == "keep_start" else 0)
            kept = max(0, min(len(ids), kept))
            kept_ids = ids[:kept] if args.truncation_mode == "keep_start" else ids[len(ids) - kept:]
            parts.append(Part(reply, kept_ids, [True] * len(kept_ids), len(ids) - len(kept_ids), len(ids)))
        examples.append(TrainedExample(name, row, parts))
    return examples


def classification_examples(split, name: str, label_names: list[str]) -> list[TrainedExample]:
    """Tokenized rows: every token is input, the label is what is learned."""
    return [TrainedExample(name, row, [Part("text", list(tokens["input_ids"]), [False] * len(tokens["input_ids"]))],
                    label=label_names[int(tokens["labels"])]) for row, tokens in enumerate(split, 1)]


def nothing_to_learn(examples: list[TrainedExample], where: str, split: str, fix: str, carved: bool = False) -> str | None:
    """Refuse (ToolkitError) when more than REFUSED_SHARE of a split's examples carry no loss; return a warning
    when a few do (TRL drops them); None when every example has something to learn. carved: the split was
    drawn from train by data.split, so its rows are not the file's."""
    empty = [example for example in examples if example.trained_tokens == 0]
    if not empty:
        return None
    rows = ", ".join(str(example.row) for example in empty[:5]) + (" ..." if len(empty) > 5 else "")
    why = reason(empty[0])
    counted = " as data.split drew them, not the file's" if carved else ""
    message = (f"split '{split}': {len(empty)} of {len(examples)} examples carry no token of loss (rows {rows}"
               f"{counted}; row {empty[0].row}: {why}). {fix}")
    if len(empty) > REFUSED_SHARE * len(examples):
        raise ToolkitError(f"{where}: {message}")
    return f"{message} The trainer skips them."


def reason(example: TrainedExample) -> str:
    part = next((part for part in example.parts if part.trained_before_cut and not any(part.trained)), None)
    if part is not None:
        return f"max_length cuts {part.cut} tokens, the whole {'reply' if part.name == 'sequence' else part.name}"
    return "its reply is empty or holds no assistant turn the loss can see"


GREEN, DIM, BOLD, RESET = "\033[32m", "\033[2m", "\033[1m", "\033[0m"
OPEN, CLOSE = "[[", "]]"  # around tokens that carry loss, when there is no colour


def token_text(tokenizer, token_id: int) -> str:
    return tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)


def as_dict(example: TrainedExample, tokenizer) -> dict:
    """An example with each token's text, for printing and for Python: parts of {name, ids, tokens, trained,
    special, cut}."""
    special = set(tokenizer.all_special_ids)
    parts = [{"name": part.name, "ids": part.ids, "tokens": [token_text(tokenizer, i) for i in part.ids],
              "trained": part.trained, "special": [i in special for i in part.ids], "cut": part.cut}
             for part in example.parts]
    return {"split": example.split, "row": example.row, "label": example.label,
            "tokens": sum(len(part.ids) for part in example.parts), "trained_tokens": example.trained_tokens,
            "parts": parts}


def render_part(part: dict, colour: bool) -> str:
    """The part's tokens in order; those that carry loss in green (colour) or between [[ and ]] (plain)."""
    pieces, inside = [], False
    for text, trained, special in zip(part["tokens"], part["trained"], part["special"], strict=True):
        text = text.replace("\n", "⏎\n")
        if colour:
            pieces.append(f"{BOLD if special else ''}{GREEN if trained else DIM}{text}{RESET}")
            continue
        if trained != inside:
            pieces.append(OPEN if trained else CLOSE)
            inside = trained
        pieces.append(text)
    if inside:
        pieces.append(CLOSE)
    if part["cut"]:
        pieces.append(f" ✂ {part['cut']} more tokens cut by max_length")
    return "".join(pieces)


def render(example: dict, colour: bool = False) -> str:
    """One example (as_dict) for a terminal."""
    head = (f"── {example['split']} row {example['row']}: {example['tokens']} tokens, {example['trained_tokens']} "
            f"carry loss" + (f", label {example['label']}" if example["label"] is not None else "") + " ──")
    parts = example["parts"]
    if len(parts) == 1 and parts[0]["name"] in ("sequence", "text"):
        return f"{head}\n{render_part(parts[0], colour)}"
    return head + "".join(f"\n{part['name']}: {render_part(part, colour)}" for part in parts)


def legend(colour: bool) -> str:
    return ("tokens in green carry loss; dim ones are context; bold ones are special tokens" if colour else
            f"tokens between {OPEN} and {CLOSE} carry loss; the rest is context the loss does not see")
