"""Folders the toolkit writes (run folders, token shards) and the only ones it will ever clear.

A folder is the toolkit's when it holds MARK, written first, before anything else, by the toolkit that created
it (or found it empty). A folder without it belongs to its user: the toolkit refuses to write into it unless it
is empty, and never deletes anything in it. Some places are never an output folder at all, mark or not: the
file system root, the home folder, the current folder and its parents, and a folder that holds the recipe, the
data or the model being read."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from toolkit.errors import ToolkitError

MARK = ".toolkit"  # JSON: what made the folder and when

CREATED: set[Path] = set()  # folders this process created, so the only ones it may remove again when left empty


def is_ours(folder: Path) -> bool:
    return (Path(folder) / MARK).is_file()


def entries(folder: Path) -> list[str]:
    """The names in a folder, sorted; [] for a folder that does not exist."""
    folder = Path(folder)
    return sorted(item.name for item in folder.iterdir()) if folder.is_dir() else []


def few(names: list[str], count: int = 5) -> str:
    shown = ", ".join(names[:count])
    return shown + (f" and {len(names) - count} more" if len(names) > count else "")


def never_an_output(folder: Path, inputs: list[str | Path]) -> str | None:
    """Why `folder` can never be an output folder, or None. `inputs`: what the run reads (recipe, data, model)."""
    target = Path(folder).expanduser().resolve()
    home, here = Path.home().resolve(), Path.cwd().resolve()
    if target == Path(target.anchor):
        return "it is the root of the file system"
    if target == home:
        return "it is your home folder"
    if target == here or target in here.parents:
        return "it is the current folder" if target == here else f"it holds the current folder, {here}"
    for item in filter(None, inputs):
        path = Path(item).expanduser()
        if path.exists():
            resolved = path.resolve()
            if resolved == target:
                return f"it is {item}, which this run reads"
            if target in resolved.parents:
                return f"it holds {item}, which this run reads"
    return None


def refusal_for(folder: Path, inputs: list[str | Path], what: str) -> str | None:
    """The one-line refusal for writing `what` into `folder` (None: it may be written): a place that is never an
    output, a path that is a file, or a non-empty folder the toolkit did not create."""
    folder = Path(folder)
    reason = never_an_output(folder, inputs)
    if reason:
        return (f"{folder}: the toolkit never writes {what} there ({reason}): everything in it could be replaced. "
                f"Give a folder of its own, e.g. runs/<name>.")
    if folder.exists() and not folder.is_dir():
        return f"{folder}: is a file, not a folder. Give a folder for {what}."
    names = entries(folder)
    if names and not is_ours(folder):
        return (f"{folder}: holds files the toolkit did not write ({few(names)}), so it is refused with or without "
                f"--overwrite: nothing of yours is ever replaced or deleted. Give a new or empty folder.")
    return None


def unwritable(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (or where it would be created), found by writing a probe file and
    removing it; None when it can. Catches what os.access cannot see (read-only mounts, root, full disks)."""
    place = Path(folder)
    while not place.exists() and place != place.parent:
        place = place.parent
    probe = place / f".toolkit-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"probe")
    except OSError as error:
        return f"{place}: cannot be written ({error.strerror or error}). Choose a folder you can write to."
    finally:
        probe.unlink(missing_ok=True)
    return None


def claim(folder: Path) -> None:
    """Create `folder` if needed and mark it the toolkit's (the caller has checked it is new, empty or ours)."""
    folder = Path(folder)
    if not folder.exists():
        CREATED.add(folder.resolve())
    folder.mkdir(parents=True, exist_ok=True)
    if not is_ours(folder):
        facts = {"made_by": "toolkit", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname()}
        (folder / MARK).write_text(json.dumps(facts) + "\n", encoding="utf-8")


def require_ours(folder: Path, what: str, inputs: list[str | Path] = ()) -> None:
    refusal = refusal_for(folder, list(inputs), what) or unwritable(folder)
    if refusal:
        raise ToolkitError(refusal)
