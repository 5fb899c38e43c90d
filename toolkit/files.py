"""Writing a run's final files so that none is ever seen half-written: each goes to a temporary name beside
its place and is renamed into it (a rename within one folder is atomic), so a crash leaves the old file or
the new one, never a truncated mix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def save_atomic(save, folder: Path) -> None:
    """`save(staging_folder)` (e.g. a model's save_pretrained) into a staging folder inside `folder`, then
    each file renamed into place; the staging folder is removed whatever happens."""
    folder = Path(folder)
    staging = folder / ".saving"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        save(staging)
        for item in sorted(staging.rglob("*")):
            target = folder / item.relative_to(staging)
            if item.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                os.replace(item, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_figure(figure, path: Path) -> None:
    """A matplotlib figure to PNG, renamed into place like every final file."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    figure.savefig(temporary, dpi=100)
    os.replace(temporary, path)
