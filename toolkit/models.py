"""Models and tokenizers for every task: load a checkpoint or build from a config, pad token, freezing, LoRA."""

from __future__ import annotations

import logging

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel

from toolkit.errors import ToolkitError
from toolkit.loading import from_pretrained
from toolkit.data.paths import local_path
from toolkit.progress import say, verbose
from toolkit.recipe import ModelSpec, TokenizerSpec
from toolkit.tokenizer import PAD, train_bpe


def resolve(spec: str, where: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, is it local). Local folders never touch the hub."""
    path = local_path(spec, where)
    return (str(path), True) if path is not None else (spec, False)


def _from_pretrained(loader, spec: str, where: str, what: str, **kwargs):
    target, is_local = resolve(spec, where)
    return from_pretrained(loader, target, is_local, where, what, shown=spec, **kwargs)


class DropLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in record.getMessage()


def load_checkpoint(auto_class, spec: ModelSpec, where: str, **kwargs) -> PreTrainedModel:
    """A checkpoint through `auto_class`. transformers prints a table of every weight the checkpoint lacks or
    does not use (a new task head, by design, on every fine-tuning run); here that is one line, unless
    `toolkit --verbose` asks for the library's own report."""
    common = {"revision": spec.revision, "trust_remote_code": spec.trust_remote_code, **kwargs}
    if verbose():
        return _from_pretrained(auto_class.from_pretrained, spec.name_or_path, where, "model", **common)
    # The report is one warning on modeling_utils' logger: filtered, not silenced by level (transformers runs
    # an extra tensor-parallel check, with its own warning, when that logger's level is raised).
    reporter = logging.getLogger("transformers.modeling_utils")
    drop = DropLoadReport()
    reporter.addFilter(drop)
    try:
        model, info = _from_pretrained(auto_class.from_pretrained, spec.name_or_path, where, "model",
                                       output_loading_info=True, **common)
    finally:
        reporter.removeFilter(drop)
    for key, what in (("missing_keys", "new, randomly initialised (not in the checkpoint)"),
                      ("unexpected_keys", "in the checkpoint, not used by this model"),
                      ("mismatched_keys", "re-initialised (shape differs from the checkpoint)")):
        names = sorted(str(name) for name in info.get(key) or [])
        if names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            say(f"{type(model).__name__}: {what}: {shown}")
    return model


def load_tokenizer(spec: ModelSpec, where: str, train_texts=None):
    """The checkpoint's tokenizer, a named one, or one trained on `train_texts`; always with a pad token."""
    source = spec.tokenizer if isinstance(spec.tokenizer, str) else spec.name_or_path
    if isinstance(spec.tokenizer, TokenizerSpec):
        tokenizer = train_bpe(train_texts, spec.tokenizer.vocab_size, spec.tokenizer.min_frequency)
    else:
        key = "tokenizer" if isinstance(spec.tokenizer, str) else "name_or_path"
        tokenizer = _from_pretrained(AutoTokenizer.from_pretrained, source, f"{where}.{key}", "tokenizer",
                                     revision=spec.revision, trust_remote_code=spec.trust_remote_code)
    if tokenizer.pad_token is None:
        # A pad token distinct from EOS: with pad == eos, collators mask every EOS label and
        # GPT-2 classification pools the wrong token.
        tokenizer.add_special_tokens({"pad_token": PAD})
    return tokenizer


def load_model(auto_class, spec: ModelSpec, tokenizer, where: str, **config_overrides) -> PreTrainedModel:
    """`auto_class` (e.g. AutoModelForSequenceClassification) from a checkpoint or a fresh config."""
    placement = {"attn_implementation": spec.attn_implementation} if spec.attn_implementation else {}
    if spec.dtype:
        placement["dtype"] = spec.dtype if spec.dtype == "auto" else getattr(torch, spec.dtype)
    if spec.name_or_path:
        model = load_checkpoint(auto_class, spec, f"{where}.name_or_path", **placement, **config_overrides)
    else:
        special = {f"{name}_token_id": getattr(tokenizer, f"{name}_token_id") for name in ("bos", "eos", "pad")}
        try:
            config = AutoConfig.for_model(spec.architecture, vocab_size=len(tokenizer),
                                          **{**special, **spec.config, **config_overrides})
        except (ValueError, TypeError) as error:
            raise ToolkitError(f"{where}: cannot build a '{spec.architecture}' config: {error}. "
                               f"Use a transformers model type such as gpt2 or bert.") from error
        torch.manual_seed(0)  # the same fresh weights on every rank and every run
        if placement.get("dtype") == "auto":
            placement.pop("dtype")  # a fresh model has no checkpoint dtype to follow
        try:
            model = auto_class.from_config(config, **placement)
        except (ValueError, ImportError) as error:
            raise ToolkitError(f"{where}: {str(error).strip().splitlines()[0]}") from error
        if spec.embedding_init_std is not None:
            redraw_embeddings(model, spec.embedding_init_std)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    name_loss_type(model)
    return model


def redraw_embeddings(model, std: float) -> None:
    """Every embedding table (GPT-2: tokens and positions) drawn again from N(0, std), seeded like the rest."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.weight.normal_(0.0, std)


def name_loss_type(model) -> None:
    """GPT-2's class name (GPT2LMHeadModel) does not say ForCausalLM, so transformers leaves its loss_type
    unset: the model falls back to the causal LM loss with a warning, but the Trainer, not knowing the loss
    shifts labels, counts every label as a prediction target and divides the summed loss by (T-1)/T too
    much (found by comparing per-step losses with a plain loop: tests/test_training_reference.py)."""
    if getattr(model, "loss_type", "") is None and type(model).__name__.endswith("LMHeadModel"):
        model.loss_type = "ForCausalLM"


def block_list(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    """The model's stack of transformer blocks: its longest ModuleList (gpt2: h, bert: encoder.layer)."""
    lists = [(name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.ModuleList)]
    if not lists:
        raise ToolkitError(f"model.trainable_layers: found no stack of layers in {type(model).__name__}.")
    return max(lists, key=lambda item: len(item[1]))


def train_last_layers(model: PreTrainedModel, n: int, where: str) -> None:
    """Freeze the backbone but its last `n` blocks and whatever follows them (final norm, pooler).

    The task head lives outside the backbone and always trains.
    """
    backbone = model.base_model
    name, blocks = block_list(backbone)
    if not 0 <= n <= len(blocks):
        raise ToolkitError(f"{where}.trainable_layers: {n} is out of range; this model has {len(blocks)} "
                           f"blocks (use 0 to train the head only).")
    first_trainable = f"{name}.{len(blocks) - n}."
    names = [param_name for param_name, _ in backbone.named_parameters()]
    start = next((i for i, p in enumerate(names) if p.startswith(first_trainable)), None)
    after_blocks = next(i for i, p in reversed(list(enumerate(names))) if p.startswith(f"{name}.")) + 1
    start = after_blocks if start is None else start
    for i, param in enumerate(backbone.parameters()):
        param.requires_grad = i >= start


def apply_lora(model: PreTrainedModel, peft_block: dict, task_type: str, where: str):
    from peft import LoraConfig, TaskType, get_peft_model

    from toolkit.schema import coerce_fields

    values = coerce_fields(dict(peft_block), LoraConfig, f"{where}: peft")
    values.setdefault("task_type", getattr(TaskType, task_type))
    try:
        return get_peft_model(model, LoraConfig(**values))
    except (ValueError, TypeError) as error:
        raise ToolkitError(f"{where}: peft: {error}") from error


def max_positions(model) -> int | None:
    """The longest sequence the model's position table allows (gpt2: n_positions, bert: max_position_embeddings)."""
    config = model.config
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def positions_before_loading(spec: ModelSpec, where: str) -> int | None:
    """max_positions from the model's config alone, so data can be checked against it before the weights load."""
    if spec.architecture:
        try:
            config = AutoConfig.for_model(spec.architecture, **spec.config)
        except (ValueError, TypeError, KeyError):
            return None  # load_model says what is wrong with the config
    else:
        config = _from_pretrained(AutoConfig.from_pretrained, spec.name_or_path, f"{where}.name_or_path", "config",
                                  revision=spec.revision, trust_remote_code=spec.trust_remote_code)
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def set_generation_tokens(model, tokenizer) -> None:
    """Generation stops at the end-of-turn token (and EOS) and pads with the real pad token."""
    from toolkit.chat import end_of_turn_ids

    model.generation_config.eos_token_id = end_of_turn_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
