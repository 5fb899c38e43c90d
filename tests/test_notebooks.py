"""The notebooks run top to bottom, offline, in order (03 reuses the stages 02 trained), and fail on any
cell error. They are executed where a user opens them, the project's notebooks/ folder, and find the project
root themselves. The numbers their summary lines print must be the ones a fresh run prints: committed outputs
older than the code fail here (refresh them with `python notebooks/refresh.py`)."""

from __future__ import annotations

import math
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "recipes", root / "recipes")
    (root / "notebooks").mkdir()
    return root


SUMMARY = re.compile(r"^(validation|test|answers to [^:]*): (.*)$")  # the lines a run ends with
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def summary_numbers(notebook) -> list[tuple[str, list[float]]]:
    """Each summary line the notebook printed, as (its start, its numbers)."""
    found = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for line in (out.get("text", "") if out.get("output_type") == "stream" else "").splitlines():
                match = SUMMARY.match(line.strip())
                if match:
                    found.append((match.group(1), [float(n) for n in NUMBER.findall(match.group(2))]))
    return found


def same_numbers(committed: list, fresh: list) -> bool:
    """Equal at the precision printed, give or take float rounding between thread counts."""
    return [name for name, _ in committed] == [name for name, _ in fresh] and all(
        len(a) == len(b) and all(math.isclose(x, y, rel_tol=5e-3, abs_tol=5e-4) for x, y in zip(a, b, strict=True))
        for (_, a), (_, b) in zip(committed, fresh, strict=True))


def test_there_are_three_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, project):
    notebook = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "import toolkit" in source and "recipes/" in source  # toolkit calls on the CLI's own recipes
    committed = summary_numbers(notebook)
    assert committed, "the committed notebook shows no summary line: refresh it"
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    images = [out for cell in notebook.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert images, "a notebook shows its curves"
    fresh = summary_numbers(notebook)
    assert same_numbers(committed, fresh), f"committed outputs are stale (python notebooks/refresh.py):\n" \
                                           f"committed {committed}\nfresh     {fresh}"
