"""model.config checked against the architecture's own config class before anything loads: transformers' config
classes keep any keyword they are given as an attribute nothing reads, so a misspelt `n_embed` would build a
model of the default width without a word."""

from __future__ import annotations

import difflib
import inspect

from toolkit.errors import ToolkitError

# Set by the toolkit from the task and its data; a value here would be overridden (classification) or meaningless.
SET_BY_TOOLKIT = ("num_labels", "id2label", "label2id")


def config_class(architecture: str):
    """transformers' config class for a model type (gpt2 -> GPT2Config), or None when it names none (load_model
    then says so)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    try:
        return CONFIG_MAPPING[architecture]
    except KeyError:
        return None


def known_keys(cls) -> tuple[set[str], set[str]]:
    """(every key the class reads, the ones that are its own rather than every config's): its constructor's
    parameters, its aliases (attribute_map: hidden_size for GPT-2's n_embd), the attributes a default instance
    holds, and PretrainedConfig's settable properties (output_attentions, ...)."""
    from transformers import PretrainedConfig

    def parameters(target) -> set[str]:
        return {name for name, parameter in inspect.signature(target.__init__).parameters.items()
                if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)}

    generic = parameters(PretrainedConfig) | {name for name, member in inspect.getmembers(PretrainedConfig)
                                              if isinstance(member, property) and member.fset is not None}
    own = parameters(cls) | set(getattr(cls, "attribute_map", {}))
    try:
        own |= set(vars(cls()))
    except Exception:  # a config that needs arguments to build: its signature and aliases are what we know
        pass
    own = {name for name in own if not name.startswith("_")} - generic
    return own | generic, own


def check_model_config(architecture: str, config: dict, where: str) -> None:
    cls = config_class(architecture)
    if cls is None or not isinstance(config, dict):
        return
    every, own = known_keys(cls)
    for key in config:
        if key in SET_BY_TOOLKIT:
            raise ToolkitError(f"{where}.config.{key}: the toolkit sets it from the task and its data "
                               f"(classification: the labels the data holds, or data.labels and data.num_labels). "
                               f"Drop it from model.config.")
        if key not in every:
            raise ToolkitError(f"{where}.config: {cls.__name__} has no key '{key}'{nearest(str(key), own)}. "
                               f"transformers would keep it unused, so it is refused here.")


def nearest(key: str, known: set[str]) -> str:
    """A "did you mean": the closest spelling, else the keys sharing a 4-letter piece of it (dropout -> attn_pdrop,
    resid_pdrop, ...), else the class's own keys."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    pieces = {key[start:start + 4] for start in range(len(key) - 3)}
    sharing = sorted(name for name in known if any(piece in name for piece in pieces))
    if sharing:
        return f" (did you mean one of {', '.join(sharing)}?)"
    return f"; its own keys are {', '.join(sorted(known))}"
