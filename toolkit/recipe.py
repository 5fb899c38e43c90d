"""Recipes: load a YAML file (or a dict), apply dotted overrides, and check every key before any work.

A recipe has a `task`, a `model`, a `data` block, a `training` block holding the trainer config class's
own fields (passed through unchanged), and optional `peft` and `eval` blocks.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from toolkit.errors import ToolkitError
from toolkit.schema import build, coerce_fields, spell_booleans, suggest


@dataclass
class TokenizerSpec:
    """Train a byte-level BPE tokenizer on the training texts (for models built from a config)."""

    vocab_size: int = 2000
    min_frequency: int = 2


@dataclass
class ModelSpec:
    """Either `name_or_path` (hub id, local folder, or `pkg:<package>/<folder>` inside an installed
    package), or `architecture` + `config` (a fresh model from a transformers config) + `tokenizer`."""

    name_or_path: str | None = None
    architecture: str | None = None
    config: dict = field(default_factory=dict)
    tokenizer: str | TokenizerSpec | None = None
    trainable_layers: int | None = None  # train only the last N blocks (and what follows them) + head
    revision: str | None = None
    trust_remote_code: bool = False
    dtype: str | None = None  # weights' dtype: float32 (default), bfloat16, float16, auto (the checkpoint's)
    attn_implementation: str | None = None  # eager, sdpa (default), flash_attention_2, ... checked against the device
    lm_head: str | None = None  # TRL's fused LM head on a CPU: compact (default there) or trl (toolkit.lm_head)
    # A model built from config only: draw every embedding table from N(0, std) instead of transformers' init
    # (GPT-2: std 0.02). The published from-scratch GPT uses 1.0 with an untied output head (toolkit.init_check).
    embedding_init_std: float | None = None


@dataclass
class SplitSpec:
    """Carve validation/test out of `train` when no such files are given (fractions of train's rows).

    shuffle: true draws the held-out rows at random (seeded); false keeps file order, as published
    protocols split a corpus: train is the first part, then validation, then test. pretrain and mlm carve
    token blocks instead of documents when train has too few documents to give each split one.
    """

    validation: float = 0.1
    test: float = 0.2
    seed: int | None = None  # default: training.seed; unused when shuffle is false
    shuffle: bool = True


@dataclass
class CleanSpec:
    """Pretraining corpus cleaning, in order: language, quality filters, exact and near duplicates.

    quality maps datatrove filter names to their own keyword arguments (gopher_quality, gopher_repetition,
    c4_quality, fineweb_quality); language is a list of ISO codes (null: keep all). The steps are datatrove
    filters: with tasks and workers at 1 they run in this process; otherwise datatrove's LocalPipelineExecutor
    splits the corpus into `tasks` shards and runs `workers` of them at once (duplicates are then found in one
    task after all shards). `toolkit prepare-corpus` runs the same steps into a folder, locally or on Slurm.
    """

    quality: dict = field(default_factory=lambda: {"gopher_quality": {}, "gopher_repetition": {},
                                                   "fineweb_quality": {}})
    language: list | None = field(default_factory=lambda: ["en"])
    min_language_score: float = 0.65
    exact_dedup: bool = True
    near_dedup: bool = True
    minhash_threshold: float = 0.8  # estimated Jaccard similarity of word 5-grams above which a doc is a copy
    num_perm: int = 128
    tasks: int = 1  # shards of the corpus for the per-document steps (language, quality)
    workers: int = 1  # shards cleaned at once, one process each


@dataclass
class MixtureSource:
    """One dataset of a mixture, in alignment-handbook's `dataset_mixture` words."""

    id: str  # a local file (json, jsonl, csv, tsv, parquet, txt), a folder (save_to_disk, or a dataset
    # repository's data files, read as the hub reads them), or a hub dataset id
    config: str | None = None  # the hub dataset's configuration
    split: str = "train"  # the split to read, slices included: "train[:1000]", "train[10%:]"
    columns: list | dict | None = None  # keep these columns (a list), or keep and rename ({its name: recipe's name})
    weight: float = 1.0  # share of its rows taken, drawn with the mixture's seed; 2.5: two whole copies and half


@dataclass
class MixtureSpec:
    """Several datasets mixed into the train split (toolkit.data.mixture): each source's share is drawn at random
    with `seed`, the sources are joined and the whole is shuffled with the same seed. validation/test still come
    from their own files, or are carved from the mixture by data.split."""

    datasets: list = field(default_factory=list)  # of MixtureSource
    seed: int | None = None  # default: training.seed


@dataclass
class DataSpec:
    """Local files (json, jsonl, csv, tsv, parquet, txt, or a save_to_disk folder) or a hub dataset `name`.

    sample_by: what one document of a .txt file is, in datasets' own words: the whole file ("document"),
    each blank-line-separated paragraph ("paragraph") or each line ("line"); null is the task's default
    (pretrain and mlm: document; the others: line). Blank documents are dropped.
    """

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    name: str | None = None
    config_name: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    labels: list | None = None
    num_labels: int | None = None
    split: SplitSpec | None = None
    sample_by: Literal["document", "paragraph", "line"] | None = None  # .txt files only
    max_length: int = 256
    limit: int | None = None  # keep at most this many rows per split (quick trials)
    clean: CleanSpec | None = None  # pretraining corpora: filter and deduplicate before tokenizing
    mixture: MixtureSpec | None = None  # several datasets as the train split, instead of train or name
    streaming: bool = False  # pretrain, mlm, sft, dpo, reward: read train lazily (toolkit.data.streaming); needs max_steps
    num_proc: int | None = None  # processes for tokenizing and mapping; null: chosen from the machine (data.map_processes)


# Data keys that only some tasks read, and which.
TASK_DATA_KEYS = {"text_column": {"classification", "pretrain", "mlm"}, "label_column": {"classification"},
                  "labels": {"classification"}, "num_labels": {"classification"}, "clean": {"pretrain", "mlm"}}


@dataclass
class EvalSpec:
    splits: list = field(default_factory=lambda: ["validation", "test"])  # evaluated at the end of a run
    prompts: list = field(default_factory=list)  # sampled at each evaluation (LM tasks), or [MASK] texts (mlm)
    max_new_tokens: int = 40
    generations: int = 100  # sft, dpo, kto, orpo, rlhf: greedy answers to this many held-out prompts (toolkit.metrics.answers)
    judge: str | None = None  # a reward run's folder or a causal LM that scores those answers (toolkit.metrics.judge)


@dataclass
class PreflightSpec:
    """The reward preflight before online RL (toolkit.rl_preflight): `prompts` training prompts (all if fewer),
    num_generations completions each, scored by every reward. The run is warned of when more than `warn_above` of
    the groups have no spread (every completion of a prompt scored alike, in the weighted total or in the reward of
    the largest weight: nothing to learn from), and refused when more than `refuse_above` have none in the total
    (no gradient from them at all; null: never refused)."""

    prompts: int = 32
    # Measured (toolkit.rl_preflight): the shipped reversal pair, whose RL gains on every seed, had 0.22-0.38 with
    # 32 prompts and up to 0.53 with 64; the arithmetic pair, whose RL stays flat, 0.50-0.75; a run that logged
    # 0.83, and a start that got nothing right (1.0), could learn nothing at all.
    warn_above: float = 0.6
    refuse_above: float | None = 0.8


PREFLIGHT_WORDS = ("refuse", "warn", "off")  # refuse: the defaults above; warn: never refuse; off: no preflight


@dataclass
class RLSpec:
    """Online RL (task: rlhf). rewards: a list of {function: name or module:function} and/or
    {model: a reward run's folder}, each with an optional weight (TRL's reward_weights). Reward functions
    receive every data column beside the prompt (e.g. `answer`) as keyword arguments. preflight: a word of
    PREFLIGHT_WORDS or a PreflightSpec mapping."""

    algorithm: Literal["grpo", "rloo"] = "grpo"
    rewards: list = field(default_factory=list)
    preflight: str | PreflightSpec = "refuse"


def preflight_settings(spec: RLSpec | None) -> PreflightSpec | None:
    """The preflight a recipe asks for; None when it is off."""
    value = (spec or RLSpec()).preflight
    if isinstance(value, PreflightSpec):
        return value
    return None if value == "off" else PreflightSpec(refuse_above=None) if value == "warn" else PreflightSpec()


def check_preflight(spec: RLSpec, where: str) -> None:
    """rl.preflight: one of its words, or counts and shares that mean what they say."""
    value = spec.preflight
    if isinstance(value, str):
        if value not in PREFLIGHT_WORDS:
            raise ToolkitError(f"{where}: '{value}' is not a preflight setting{suggest(value, PREFLIGHT_WORDS)}. "
                               f"Give refuse (the default), warn (never refuse), off, or a mapping "
                               f"{{prompts: 32, warn_above: 0.6, refuse_above: 0.8}}.")
        return
    if value.prompts < 1:
        raise ToolkitError(f"{where}.prompts is {value.prompts}; sample at least 1 prompt, or set rl.preflight: off.")
    for name in ("warn_above", "refuse_above"):
        share = getattr(value, name)
        if share is not None and not (math.isfinite(share) and 0 <= share <= 1):
            raise ToolkitError(f"{where}.{name} is {share}; give a share of the groups, from 0 to 1.")
    if value.refuse_above is not None and value.warn_above > value.refuse_above:
        raise ToolkitError(f"{where}: warn_above ({value.warn_above}) is above refuse_above ({value.refuse_above}); "
                           f"a run is warned of before it is refused, so keep warn_above at or below it.")


@dataclass
class Recipe:
    task: str
    model: ModelSpec
    data: DataSpec
    training: dict = field(default_factory=dict)
    peft: dict | None = None
    eval: EvalSpec = field(default_factory=EvalSpec)
    rl: RLSpec | None = None
    overwrite: bool = False
    resume: bool = False  # continue from the last checkpoint in output_dir
    source: str = "<python>"  # where the recipe came from, for messages; not a recipe key

    def to_dict(self) -> dict:
        """The recipe as run, every value in force; a data key only some tasks read is left out of the others'
        recipes while it holds its default (an SFT recipe with `label_column: label` would suggest it reads one)."""
        as_dict = dataclasses.asdict(self)
        as_dict.pop("source")
        defaults = DataSpec()
        for key, tasks in TASK_DATA_KEYS.items():
            if self.task not in tasks and as_dict["data"].get(key) == getattr(defaults, key):
                as_dict["data"].pop(key, None)
        return as_dict

    @property
    def output_dir(self) -> Path:
        """Where the run writes: the one rule every command follows (output_dir_for)."""
        return Path(output_dir_for(self.training.get("output_dir"), self.source, self.task))


RECIPE_KEYS = [f.name for f in dataclasses.fields(Recipe) if f.name != "source"]


def parse_overrides(items: list[str] | dict | None) -> dict:
    """`["training.learning_rate=1e-4", ...]` (CLI) or `{"training.learning_rate": 1e-4}` (Python)."""
    if not items:
        return {}
    if isinstance(items, dict):
        return dict(items)
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ToolkitError(f"override '{item}': write it as key=value, e.g. training.learning_rate=1e-4.")
        try:
            parsed[key] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            parsed[key] = text
    return parsed


def override_words(items: list[str] | dict | None) -> dict[str, str]:
    """{dotted key: word} for the command-line overrides whose value YAML reads as a boolean from a word
    (training.eval_strategy=no), so that a field taking a word gets it back (schema.spell_booleans)."""
    if not items or isinstance(items, dict):  # Python values: a False there is meant as False
        return {}
    words = {}
    for item in items:
        key, _, text = item.partition("=")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue
        words.update(boolean_words(node, tuple(key.split("."))))
    return words


def words_after_overrides(words: dict[str, str], overrides: dict, given: dict[str, str]) -> dict[str, str]:
    """The recipe file's words where no override replaced the value (or a block holding it), then the overrides'."""
    kept = {dotted: word for dotted, word in words.items()
            if not any(dotted == key or dotted.startswith(f"{key}.") for key in overrides)}
    return {**kept, **given}


def apply_overrides(raw: dict, overrides: dict) -> dict:
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = raw
        *parents, last = dotted.split(".")
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ToolkitError(f"override '{dotted}': '{part}' is not a block of keys.")
            node = child
        node[last] = value
    return raw


class RepeatedKey(yaml.YAMLError):
    def __init__(self, key, first: int, second: int):
        super().__init__(f"key '{key}' is given twice, on lines {first} and {second}")
        self.key, self.first, self.second = key, first, second


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error: plain YAML keeps the last and
    drops the first without a word (a second `training:` block erasing the first one's output_dir)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden: that is its use
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise RepeatedKey(key, seen[key], key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: the base class says what is wrong with it
                break
        return super().construct_mapping(node, deep)


BOOLEAN_TAG = "tag:yaml.org,2002:bool"


def boolean_words(node: yaml.Node | None, at: tuple = ()) -> dict[str, str]:
    """{dotted key: word} for each mapping value YAML 1.1 resolved as a boolean from a plain (unquoted) word:
    no, off, yes, On, FALSE... The parsed value alone cannot say which word it was; the recipe's field decides
    whether it meant the boolean or the word (schema.spell_booleans). Values inside lists are not recorded."""
    if isinstance(node, yaml.ScalarNode):
        plain = node.tag == BOOLEAN_TAG and node.style is None
        return {".".join(at): node.value} if plain and at else {}
    words = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                words.update(boolean_words(value_node, (*at, key_node.value)))
    return words


def read_yaml(path: Path) -> dict:
    return read_yaml_words(path)[0]


def read_yaml_words(path: Path) -> tuple[dict, dict[str, str]]:
    """The recipe file's mapping, and the words behind its booleans (boolean_words)."""
    if path.is_dir():
        inside = sorted(str(item) for item in path.glob("*.y*ml"))
        listing = f", e.g. {', '.join(inside[:3])}" if inside else ""
        raise ToolkitError(f"{path}: a folder, not a recipe file. Give a .yaml file{listing}.")
    if not path.is_file():
        raise ToolkitError(f"{path}: recipe file not found. Check the path (recipes live in recipes/).")
    try:
        node, raw = compose_and_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ToolkitError(f"{path}: not UTF-8 text. Save the recipe as UTF-8.") from error
    except RepeatedKey as error:
        raise ToolkitError(f"{path}: {error}; YAML would keep only the second and drop the first without a word. "
                           f"Keep one '{error.key}' (merge the two into it).") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        raise ToolkitError(f"{path}:{at or ''} not valid YAML ({problem}). Fix the syntax there.") from error
    if raw is None:
        raise ToolkitError(f"{path}: the recipe is empty. It needs at least task, model and data.")
    if not isinstance(raw, dict):
        raise ToolkitError(f"{path}: a recipe is a mapping of keys (task, model, data, ...), "
                           f"not a {type(raw).__name__}.")
    return raw, boolean_words(node)


def compose_and_load(text: str) -> tuple[yaml.Node | None, object]:
    """yaml.load(text, UniqueKeyLoader), keeping the node tree the values were built from."""
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def load_recipe(source: str | Path | dict | Recipe, overrides: list[str] | dict | None = None) -> Recipe:
    """Read, override and check a recipe. Training fields are checked later, against the task's class."""
    if isinstance(source, Recipe):
        source = {**source.to_dict(), "__source__": source.source}
    if isinstance(source, dict):
        raw, words = dict(source), {}
        where = raw.pop("__source__", "<python>")
    else:
        where = str(source)
        raw, words = read_yaml_words(Path(source))
    parsed = parse_overrides(overrides)
    raw = apply_overrides(raw, parsed)
    words = words_after_overrides(words, parsed, override_words(overrides))
    raw = spell_booleans(raw, words, Recipe)  # the training block's field types come with its task (below)

    for key in raw:
        if key not in RECIPE_KEYS:
            raise ToolkitError(f"{where}: unknown top-level key '{key}'{suggest(str(key), RECIPE_KEYS)}. "
                               f"A recipe has: {', '.join(RECIPE_KEYS)}.")
    for key in ("task", "model", "data"):
        if raw.get(key) is None:
            raise ToolkitError(f"{where}: missing '{key}'. Every recipe names its task, model and data.")
    checked = coerce_fields(raw, Recipe, where)
    recipe = Recipe(
        task=checked["task"],
        model=build(ModelSpec, raw["model"], f"{where}: model"),
        data=build(DataSpec, raw["data"], f"{where}: data"),
        training=dict(raw.get("training") or {}),
        peft=raw.get("peft"),
        eval=build(EvalSpec, raw.get("eval"), f"{where}: eval"),
        rl=build(RLSpec, raw["rl"], f"{where}: rl") if raw.get("rl") is not None else None,
        overwrite=checked.get("overwrite", False),
        resume=checked.get("resume", False),
        source=where,
    )
    if recipe.rl is not None:
        check_preflight(recipe.rl, f"{where}: rl.preflight")
    recipe.training = spell_training_booleans(recipe, words)
    recipe.training["output_dir"] = output_dir_for(recipe.training.get("output_dir"), where, recipe.task)
    model = recipe.model
    if bool(model.name_or_path) == bool(model.architecture):
        raise ToolkitError(f"{where}: model needs exactly one of 'name_or_path' (a checkpoint to load) or "
                           f"'architecture' (a fresh model from a config, e.g. architecture: gpt2).")
    if model.architecture and model.tokenizer is None:
        raise ToolkitError(f"{where}: model.tokenizer is needed with 'architecture': a tokenizer folder or "
                           f"hub id, or {{vocab_size: N}} to train one on the training texts.")
    if model.architecture:
        from toolkit.model_config import check_model_config

        check_model_config(model.architecture, model.config, f"{where}: model")
    if model.embedding_init_std is not None:
        from toolkit.init_check import check_embedding_init

        check_embedding_init(model, where)
    if recipe.data.mixture is not None:
        check_mixture(recipe.data, f"{where}: data")
    elif not recipe.data.train and not recipe.data.name:
        raise ToolkitError(f"{where}: data needs 'train' (a local file), 'name' (a hub dataset id) or 'mixture' "
                           f"(several datasets).")
    check_data_numbers(recipe.data, f"{where}: data")
    if recipe.data.num_proc is not None and recipe.data.num_proc < 1:
        raise ToolkitError(f"{where}: data.num_proc is {recipe.data.num_proc}; give 1 or more processes, or null to "
                           f"let the machine's cores decide.")
    from toolkit.data.streaming import check_streaming

    check_streaming(recipe, where)
    from toolkit.devices import check_recipe

    check_recipe(recipe)
    return recipe


def spell_training_booleans(recipe: Recipe, words: dict[str, str]) -> dict:
    """The training block with spell_booleans against its task's trainer config class (eval_strategy: no is
    the word "no"). An unknown task is left for its own message."""
    inner = {dotted.removeprefix("training."): word for dotted, word in words.items()
             if dotted.startswith("training.")}
    if not inner:
        return recipe.training
    from toolkit.tasks import TASKS, config_class, get_task

    if recipe.task not in TASKS:
        return recipe.training
    return spell_booleans(recipe.training, inner, config_class(get_task(recipe.task, recipe.source), recipe))


def check_data_numbers(spec: DataSpec, where: str) -> None:
    """Numbers that must mean what they say: a limit of 0 once meant no limit and -1 an empty split, a
    max_length of 0 passed check and failed in training, a NaN fraction carved nothing."""
    if spec.limit is not None and spec.limit < 1:
        raise ToolkitError(f"{where}.limit is {spec.limit}; it must be at least 1 (the rows kept per split), or "
                           f"drop data.limit to keep every row.")
    if spec.max_length < 1:
        raise ToolkitError(f"{where}.max_length is {spec.max_length}; it must be at least 1 (tokens per example).")
    for name in ("validation", "test"):
        share = getattr(spec.split, name) if spec.split else 0
        if isinstance(share, (int, float)) and not (math.isfinite(share) and 0 <= share < 1):
            raise ToolkitError(f"{where}.split.{name} is {share}; give a finite fraction of train's rows, from 0 "
                               f"up to below 1.")


def check_mixture(spec: DataSpec, where: str) -> None:
    """Each source checked as a recipe block (turned into a MixtureSource), before any file is read."""
    mixture = spec.mixture
    clashes = [key for key in ("train", "name") if getattr(spec, key)]
    if clashes:
        raise ToolkitError(f"{where}: data.mixture makes the train split, so data.{clashes[0]} would be ignored. "
                           f"Put it in the mixture as a source ({{id: {getattr(spec, clashes[0])}}}) or drop "
                           f"data.mixture.")
    if not mixture.datasets:
        raise ToolkitError(f"{where}.mixture.datasets: empty. List the sources, e.g. [{{id: a.jsonl, weight: 0.5}}, "
                           f"{{id: b.jsonl}}].")
    sources = []
    for index, entry in enumerate(mixture.datasets):
        at = f"{where}.mixture.datasets[{index}]"
        if isinstance(entry, MixtureSource):
            entry = vars(entry)
        if not isinstance(entry, dict) or not entry.get("id"):
            raise ToolkitError(f"{at}: a source is a mapping with at least an id (a local file or a hub dataset "
                               f"id), got {entry!r}.")
        source = build(MixtureSource, entry, at)
        if not (isinstance(source.weight, (int, float)) and source.weight > 0 and math.isfinite(source.weight)):
            raise ToolkitError(f"{at}.weight: {source.weight!r} must be a number above 0 (the share of the source's "
                               f"rows taken; above 1, whole copies and a share).")
        sources.append(source)
    mixture.datasets = sources
    repeated = [source.id for source in sources if source.weight > 1]
    carved = [name for name in ("validation", "test") if spec.split and getattr(spec.split, name) and not getattr(spec, name)]
    if repeated and carved:
        raise ToolkitError(f"{where}.split: {carved[0]} would be carved from a mixture that repeats rows of "
                           f"{repeated[0]} (weight above 1), so copies of one row would sit in train and in "
                           f"{carved[0]}. Give data.{carved[0]} its own file, or keep the weights at 1 or below.")


def output_dir_for(value, source: str, task: str) -> str:
    """Where a run writes, the one rule for every command: training.output_dir with `~` expanded; when it is
    missing, empty or null, runs/<recipe file name> (runs/<task> for a recipe made in Python)."""
    text = "" if value is None else str(value).strip()
    if text:
        return str(Path(text).expanduser())
    name = Path(source).stem if source.endswith((".yaml", ".yml")) else task
    return str(Path("runs") / name)


def recipe_text(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False)
