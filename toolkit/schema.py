"""Check a mapping from YAML against a dataclass: unknown keys (with a "did you mean"), and types.

Recipe blocks are plain dataclasses, and the `training` block is the trainer's own config class, so
one checker serves both. Values are coerced where YAML is known to mislead: PyYAML reads `1e-4` as a
string (YAML 1.1 wants a dot), so a float field accepts a string that parses as a float; and it reads a plain
`no` or `off` as false, so a field that takes a word gets back the word written (spell_booleans).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from typing import Any, Literal, Union

from toolkit.errors import ToolkitError


def suggest(key: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(values: dict, cls: type, where: str) -> None:
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in values:
        if key not in known:
            listing = (f"Known keys: {', '.join(sorted(known))}." if len(known) <= 25 else
                       f"The keys are the fields of {cls.__module__.split('.')[0]}.{cls.__name__}.")
            raise ToolkitError(f"{where}: unknown key '{key}'{suggest(str(key), known)}. {listing}")


def coerce_fields(values: dict, cls: type, where: str) -> dict:
    """Unknown keys are an error; each value is checked (and gently coerced) against its field type."""
    if not isinstance(values, dict):
        raise ToolkitError(f"{where}: expected a mapping of keys to values, got {type(values).__name__}.")
    check_keys(values, cls, where)
    hints = _hints(cls)  # empty where a forward reference cannot be resolved: keys are still checked
    return {key: coerce(value, hints.get(key, Any), f"{where}.{key}") for key, value in values.items()}


# What YAML 1.1 (PyYAML) reads as a boolean when unquoted, lower-cased, by the value it gives.
YAML_BOOLEANS = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


def spell_booleans(values: dict, words: dict[str, str], cls: type) -> dict:
    """values, where YAML 1.1 turned a word into a boolean that cls's field cannot take, given the word back.

    words: {dotted key: the word as written} for each plain no/off/yes/on/true/false (any case) that YAML read
    as a boolean. A field that takes a boolean keeps it (bf16: no); a field that takes a word (an enum such as
    eval_strategy, a Literal, a string) gets the word as written, as TRL's command line (--eval_strategy no)
    gives it, and its own check then says whether that word is one it knows (off is not; no is). A value an
    override replaced since (no longer the boolean the word reads as) is left alone.
    """
    hints = _hints(cls)
    spelled = dict(values)
    for key, inner_words in _by_first_key(words).items():
        value, tp = spelled.get(key), hints.get(key, Any)
        if "" in inner_words:
            word = inner_words[""]
            if isinstance(value, bool) and value is YAML_BOOLEANS.get(word.lower()) and not _takes(value, tp):
                spelled[key] = word
        inner = _dataclass_in(tp)
        if inner is not None and isinstance(value, dict):
            spelled[key] = spell_booleans(value, {k: w for k, w in inner_words.items() if k}, inner)
    return spelled


def _by_first_key(words: dict[str, str]) -> dict[str, dict[str, str]]:
    """{"data.split.shuffle": w, "bf16": v} -> {"data": {"split.shuffle": w}, "bf16": {"": v}}."""
    grouped: dict[str, dict[str, str]] = {}
    for dotted, word in words.items():
        key, _, rest = dotted.partition(".")
        grouped.setdefault(key, {})[rest] = word
    return grouped


def _takes(value: Any, tp: Any) -> bool:
    try:
        coerce_value(value, tp, "")
    except ToolkitError:
        return False
    return True


def _hints(cls: type) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a forward reference we cannot resolve: no field types to go by
        return {}


def build(cls: type, values: dict | None, where: str):
    """Instantiate a recipe dataclass from a YAML mapping, nested dataclasses included."""
    values = coerce_fields(values or {}, cls, where)
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        inner = _dataclass_in(hints.get(key))
        if inner is not None and isinstance(value, dict):
            values[key] = build(inner, value, f"{where}.{key}")
    return cls(**values)


def _dataclass_in(tp) -> type | None:
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def _describe(tp) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                "dict": "a mapping", "list": "a list"}.get(tp.__name__, tp.__name__)
    return str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Return value, converted where harmless, or raise ToolkitError naming the key and the type wanted."""
    try:
        return coerce_value(value, tp, where)
    except ToolkitError as error:
        if isinstance(value, bool):
            raise ToolkitError(f"{error}{yaml_boolean_hint(value, tp, where)}") from error
        raise


def yaml_boolean_hint(value: bool, tp: Any, where: str) -> str:
    """YAML 1.1 reads an unquoted no/off/false (yes/on/true) as a boolean: where a string was wanted, say which
    word to quote, the field's own choice when it has one (save_strategy: 'no')."""
    words = ("no", "off", "false") if value is False else ("yes", "on", "true")
    choices = [str(getattr(choice, "value", choice)) for choice in _choices(tp)]
    word = next((choice for choice in choices if choice in words), words[0])
    key = where.rpartition(": ")[2]
    return (f" YAML reads an unquoted {word} as {str(value).lower()}: if you meant the word, quote it, "
            f"'{word}' (on the command line: {key}=\"'{word}'\").")


def _choices(tp: Any) -> list:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return list(tp)
    if typing.get_origin(tp) is Literal:
        return list(typing.get_args(tp))
    return [choice for arg in typing.get_args(tp) for choice in _choices(arg)]


def coerce_value(value: Any, tp: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # X | None: the message of X itself (a Literal's choices and a "did you mean")
            return coerce_value(value, options[0], where)
        errors = []
        for arg in options:
            try:
                return coerce_value(value, arg, where)
            except ToolkitError:
                errors.append(_describe(arg))
        raise ToolkitError(f"{where}: expected {' or '.join(errors)}, got {value!r}.")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        raise ToolkitError(f"{where}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
                           f"{suggest(str(value), map(str, choices))}.")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        choices = [member.value for member in tp]
        if value in choices or isinstance(value, tp):
            return value
        raise ToolkitError(f"{where}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
                           f"{suggest(str(value), map(str, choices))}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value  # an int stays an int: some float fields read 5 (steps) and 0.1 (a ratio) differently
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (list, tuple) or tp in (list, tuple):
        if isinstance(value, (list, tuple)):
            return list(value)
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            return value
    elif dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return value
    else:
        return value  # a type we do not check here; the config class's own __post_init__ still will
    raise ToolkitError(f"{where}: expected {_describe(origin or tp)}, got {value!r} ({type(value).__name__}).")
