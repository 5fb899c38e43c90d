"""Run the notebooks again, in order, and save them with fresh outputs: `python notebooks/refresh.py`.

They run in a scratch copy of the project's recipes (so the runs they train do not land in the checkout), opened
from its notebooks/ folder as a user opens them. Paths of this machine in the outputs (the scratch folder, the
virtual environment's site-packages) are written as `.` and `site-packages`, so the saved notebooks say nothing
about where they ran. tests/test_notebooks.py fails when the numbers they print go stale.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def without_machine_paths(notebook, scratch: Path) -> None:
    site = sysconfig.get_paths()["purelib"]
    for cell in notebook.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "text" in out:
                out["text"] = out["text"].replace(str(scratch), ".").replace(site, "site-packages")
            plain = out.get("data", {}).get("text/plain")
            if plain:
                out["data"]["text/plain"] = plain.replace(str(scratch), ".").replace(site, "site-packages")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="notebooks-") as folder:
        scratch = Path(folder).resolve()
        shutil.copytree(HERE.parent / "recipes", scratch / "recipes")
        (scratch / "notebooks").mkdir()
        for path in sorted(HERE.glob("*.ipynb")):
            print(f"running {path.name} ...", flush=True)
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(notebook, timeout=1800, kernel_name="python3",
                           resources={"metadata": {"path": str(scratch / "notebooks")}}).execute()
            without_machine_paths(notebook, scratch)
            nbformat.write(notebook, path)
    return None


if __name__ == "__main__":
    sys.exit(main())
