"""A classification label column read as meant: one kind of value (1 and "1" would be two classes), every
held-out label one that train has (else a class the model never trained on is scored), and data.labels in the
data's own spelling (YAML reads an unquoted no/yes as false/true)."""

from __future__ import annotations

from toolkit.errors import ToolkitError

# What YAML 1.1 (PyYAML) reads as a boolean when unquoted, by the value it gives.
YAML_BOOLEAN_WORDS = {False: ("no", "off", "false"), True: ("yes", "on", "true")}


def kind_of(value) -> str:
    if isinstance(value, bool):
        return "true/false values"
    if isinstance(value, (int, float)):
        return "numbers"
    return "strings" if isinstance(value, str) else f"{type(value).__name__} values"


def label_value(value):
    return value.strip() if isinstance(value, str) else value


def check_label_column(splits, spec, where: str, carved) -> None:
    """`carved(name)`: whether split `name` was carved out of train by data.split (its rows then have no file)."""
    column = spec.label_column
    firsts: dict = {}  # label -> the split it is first seen in
    for name, split in splits.items():
        for value in split[column]:
            firsts.setdefault(label_value(value), name)
    check_one_kind(firsts, column, where)
    check_yaml_booleans(spec.labels, firsts, column, where)
    train = {label for label, name in firsts.items() if name == "train"}
    for label, name in firsts.items():
        if label not in train:
            how = (f"Give train more rows of it (data.split put all of its rows in {name}), or drop them"
                   if carved(name) else "Add train rows with it, fix its spelling, or drop its rows")
            raise ToolkitError(f"{where}: label {label!r} (column '{column}') is in split '{name}' but never in "
                               f"train, so the model would be scored on a class it never trained on. {how}.")


def check_one_kind(firsts: dict, column: str, where: str) -> None:
    kinds: dict[str, list] = {}
    for label in firsts:
        kinds.setdefault(kind_of(label), []).append(label)
    if len(kinds) > 1:
        shown = " and ".join(f"{kind} ({', '.join(repr(label) for label in labels[:3])} in split "
                             f"'{firsts[labels[0]]}')" for kind, labels in kinds.items())
        raise ToolkitError(f"{where}: column '{column}' holds both {shown}; 1 and '1' would be two classes. Write "
                           f"every label one way, in every file: all as names or all as numbers.")


def check_yaml_booleans(labels: list | None, firsts: dict, column: str, where: str) -> None:
    """data.labels of true/false against a column of strings: YAML turned the recipe's unquoted words into
    booleans; say which words to quote."""
    if not labels or not any(isinstance(label, bool) for label in labels):
        return
    if any(isinstance(label, bool) for label in firsts):
        return  # the data holds true/false too: the recipe means them
    strings = [label for label in firsts if isinstance(label, str)]
    if not strings:
        return  # numbers against true/false: the data.labels check names the first label missing

    def spelled(label):
        if not isinstance(label, bool):
            return label
        return next((text for text in strings if text.lower() in YAML_BOOLEAN_WORDS[label]), str(label).lower())

    raise ToolkitError(f"{where}.labels: YAML reads unquoted yes, no, on, off, true and false as true/false, so "
                       f"data.labels is {labels} while column '{column}' holds strings such as {strings[0]!r}. "
                       f"Quote them: labels: {[spelled(label) for label in labels]}.")


def stray_labels(counts: dict, column: str) -> list[str]:
    """Warnings for labels that look like a typo of another: a handful of train rows (at most 1% of them)
    spelt close to a label that has ten times as many. A rare class may be real, so it is said, not refused."""
    import difflib

    total = sum(counts.values())
    warnings = []
    for label, rows in counts.items():
        common = [str(other) for other, many in counts.items() if many >= 10 * rows and other != label]
        close = difflib.get_close_matches(str(label), common, n=1, cutoff=0.6) if rows * 100 <= total else []
        if close:
            warnings.append(f"label {label!r} has {rows} of {total} train rows (column '{column}') and looks like a "
                            f"typo of {close[0]!r}: fix it in the data, or list the label set under data.labels so "
                            f"a stray spelling is refused.")
    return warnings
