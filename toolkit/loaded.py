"""A saved model folder loaded once: `toolkit.load(run)` reads the folder, keeps its model and tokenizer, and
answers predict / generate / fill_mask / score for as many calls as asked, each with a list, one entry per input.

What the model can do is decided from the folder's config.json before any weights load: a sequence classifier
with labels predicts, one with a single output is a reward model and scores, a causal LM generates, a masked LM
fills masks. The folder goes through the same checks and loaders as every other use of a saved model
(toolkit.loading, toolkit.run_folder); the work itself is the code training uses too (toolkit.generation,
toolkit.reward_model, toolkit.masked_lm), so a handle answers exactly what the module-level functions do."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.loading import refuse_custom_code, saved_model, saved_tokenizer
from toolkit.run_folder import KINDS, saved_config

REWARD = "reward model"
METHODS = {"classifier": "predict", REWARD: "score", "causal LM": "generate", "masked LM": "fill_mask"}
WANTS = {method: kind for kind, method in METHODS.items()}
MADE_BY = {"classifier": "a classification run", REWARD: "a reward run",
           "causal LM": "a pretrain, sft, dpo, kto, orpo or rlhf run", "masked LM": "an mlm run"}
ANY_RUN = "a finished run (or any folder save_pretrained wrote)"


def outputs(config: dict) -> int:
    """A sequence classifier's number of outputs; transformers writes id2label only when it is not 2."""
    return len(config.get("id2label") or {}) or config.get("num_labels") or 2


def kind_of(config: dict) -> str | None:
    """What a saved config's model is (a key of METHODS), or None for an architecture the toolkit has no use for.
    Classification needs two labels at least, so a single-output classifier is a reward model."""
    architectures = config.get("architectures") or []
    kind = next((kind for kind, endings in KINDS.items()
                 if any(name.endswith(endings) for name in architectures)), None)
    return REWARD if kind == "classifier" and outputs(config) == 1 else kind


def described(config: dict, kind: str | None) -> str:
    """'GPT2ForSequenceClassification (a classifier, 2 labels)': the model as a message names it."""
    architecture = ", ".join(config.get("architectures") or []) or "model of unknown kind"
    if kind is None:
        return architecture
    detail = {"classifier": f", {outputs(config)} labels", REWARD: ": one output"}.get(kind, "")
    return f"{architecture} (a {kind}{detail})"


def unfit(folder: Path, config: dict, kind: str | None, method: str) -> ToolkitError:
    """The one line for asking a model to do what its kind does not: which folder, what it holds, what fits."""
    wanted = WANTS[method]
    fits = f" This model answers {METHODS[kind]}." if kind else ""
    return ToolkitError(f"{folder}: holds a {described(config, kind)}, not a {wanted}: {method} needs the "
                        f"output_dir of {MADE_BY[wanted]}.{fits}")


def listed(values, method: str, noun: str) -> list:
    """Inputs as a list. One string is refused rather than wrapped: see LoadedModel."""
    if isinstance(values, (str, bytes)):
        raise ToolkitError(f"{method} takes a list of {noun} and answers with a list, one entry per item; it was "
                           f"given one string. For one: {method}([{noun[:-1]}])[0].")
    return list(values)


class LoadedModel:
    """A saved model folder, loaded once (toolkit.load): its model and tokenizer stay in memory, so each call
    only runs the model. Only the method of the folder's kind works (`methods` says which); another raises a
    ToolkitError naming the one that fits.

    Every method takes a list and returns a list, one entry per input, whatever the length. A single string is
    refused, not wrapped: a transformers pipeline (and litgpt's LLM.generate) given one string answers with one
    item, so a caller used to them expects an item back, and a list in its place would only fail later and
    elsewhere (`result["label"]` on a list). Refusing says at once what to pass: `[text]`, then `[0]`.
    """

    def __init__(self, folder: Path, kind: str, model, tokenizer, config: dict, reward=None):
        self.folder, self.kind, self.model, self.tokenizer = folder, kind, model, tokenizer
        self.config = config  # the folder's config.json as read, for the messages
        self.reward = reward  # a reward model's toolkit.reward_model.RewardModel, which scores as training read
        self.classifier = None  # a classifier's text-classification pipeline, made at its first predict

    @property
    def methods(self) -> tuple[str, ...]:
        return (METHODS[self.kind],)

    def __repr__(self) -> str:
        return f"LoadedModel({str(self.folder)!r}: {self.kind}, answers {METHODS[self.kind]})"

    def predict(self, texts: list[str], batch_size: int = 32) -> list[dict]:
        """A label and its probability for each text: [{"label": ..., "score": ...}, ...]."""
        texts = self.inputs(texts, "predict", "texts")
        if not texts:
            return []
        if self.classifier is None:
            from transformers import pipeline

            self.classifier = pipeline("text-classification", model=self.model, tokenizer=self.tokenizer)
        return self.classifier(texts, batch_size=batch_size, truncation=True)

    def generate(self, prompts: list[str], max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 chat: bool | None = None, seed: int = 0) -> list[str]:
        """The new text after each prompt. chat: wrap each prompt as a user turn in the tokenizer's chat template
        and stop at the end of the turn (None: when the tokenizer has a template). temperature 0 is greedy."""
        from toolkit.generation import generate_with

        prompts = self.inputs(prompts, "generate", "prompts")
        if not prompts:
            return []
        return generate_with(self.model, self.tokenizer, prompts, max_new_tokens, temperature, top_p, chat, seed)

    def fill_mask(self, texts: list[str], top_k: int = 5) -> list[list[dict]]:
        """The top_k tokens for the [MASK] in each text: [[{"token": ..., "score": ...}, ...], ...]."""
        from toolkit.masked_lm import fill_mask_with

        texts = self.inputs(texts, "fill_mask", "texts")
        return fill_mask_with(self.model, self.tokenizer, texts, top_k) if texts else []

    def score(self, texts: list[str], prompts: list[str] | str | None = None, batch_size: int = 32) -> list[float]:
        """A reward for each reply (higher = preferred), read as reward training read it. prompts: one per reply,
        or one string for all of them."""
        texts = self.inputs(texts, "score", "texts")
        if isinstance(prompts, str):
            prompts = [prompts] * len(texts)
        return self.reward.score(texts, None if prompts is None else list(prompts), batch_size)

    def inputs(self, values, method: str, noun: str) -> list:
        """`values` as a list, once this model is known to do `method`."""
        if METHODS[self.kind] != method:
            raise unfit(self.folder, self.config, self.kind, method)
        return listed(values, method, noun)


def load(run_dir: str | Path, trust_remote_code: bool = False) -> LoadedModel:
    """A run's saved model (or any folder save_pretrained wrote), loaded once, for predict / generate / fill_mask /
    score as its kind allows. trust_remote_code: run Python code the folder ships (auto_map); off, such a folder
    is refused."""
    folder = Path(run_dir)
    config = checked_config(folder, ANY_RUN, trust_remote_code)
    kind = kind_of(config)
    if kind is None:
        raise ToolkitError(f"{folder}: holds a {described(config, kind)}: the toolkit answers for a classifier "
                           f"(predict), a reward model (score), a causal LM (generate) or a masked LM (fill_mask).")
    return loaded(folder, kind, config, trust_remote_code)


def load_for(method: str, run_dir: str | Path, trust_remote_code: bool = False) -> LoadedModel:
    """load, for one method: a folder whose model cannot do it is refused from its config, before any weights load
    (the module-level toolkit.predict and the others call this)."""
    folder = Path(run_dir)
    config = checked_config(folder, MADE_BY[WANTS[method]], trust_remote_code)
    kind = kind_of(config)
    if kind != WANTS[method]:
        raise unfit(folder, config, kind, method)
    return loaded(folder, kind, config, trust_remote_code)


def checked_config(folder: Path, made_by: str, trust_remote_code: bool) -> dict:
    """The folder's config.json, once the folder is known to hold a model and its code, if it ships any, is
    trusted. The code is refused first: what a folder's own code would build is no use asking about."""
    config = saved_config(folder, made_by)
    refuse_custom_code(folder, trust_remote_code, str(folder))
    return config


def loaded(folder: Path, kind: str, config: dict, trust_remote_code: bool) -> LoadedModel:
    """The model and tokenizer of a folder of a known kind, each through the loader every other use of one takes."""
    if kind == REWARD:
        from toolkit.reward_model import RewardModel

        reward = RewardModel(folder, trust_remote_code)
        return LoadedModel(folder, kind, reward.model, reward.tokenizer, config, reward)
    if kind == "causal LM":
        from toolkit.generation import load_for_generation

        return LoadedModel(folder, kind, *load_for_generation(folder, trust_remote_code), config)
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

    auto = AutoModelForSequenceClassification if kind == "classifier" else AutoModelForMaskedLM
    model = saved_model(auto, folder, trust_remote_code)
    return LoadedModel(folder, kind, model, saved_tokenizer(folder, trust_remote_code), config)
