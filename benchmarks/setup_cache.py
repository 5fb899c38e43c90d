"""Set-up time of a first and a second run of the same recipe: the second reuses what datasets cached
(files read into Arrow, tokenized splits by fingerprint), so it should reach its first training step in a
small fraction of the first one's set-up time. Each run is its own process, as a user's would be.

    python benchmarks/setup_cache.py     # the README's main job: SMS spam (shipped in the package), MiniLM

Set-up = from the start of `toolkit train` to the first training step (run.json: setup_seconds); the
datasets cache starts empty for the first run (HF_DATASETS_CACHE points to a fresh folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes/classification/minilm-sms-spam.yaml"


def run_once(recipe: Path, overrides: list[str], output: Path, cache: Path) -> dict:
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "toolkit", "train", str(recipe), *overrides,
                           f"training.output_dir={output}", "--overwrite"], capture_output=True, text=True,
                          env={**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    info = json.loads((output / "run.json").read_text())
    return {"setup": info["setup_seconds"], "train": info["train_seconds"], "wall": time.time() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="runs/benchmark-setup-cache")
    parser.add_argument("overrides", nargs="*", help="recipe overrides, e.g. training.num_train_epochs=1")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work / "datasets-cache", ignore_errors=True)
    first = run_once(RECIPE, args.overrides, work / "run", work / "datasets-cache")
    second = run_once(RECIPE, args.overrides, work / "run", work / "datasets-cache")
    print(f"{RECIPE.name}:")
    for name, run in (("first run (empty cache)", first), ("second run (cached)", second)):
        print(f"  {name:24s} set-up {run['setup']:6.2f} s, training {run['train']:7.2f} s, "
              f"set-up / training {run['setup'] / run['train']:6.1%}, process wall {run['wall']:6.1f} s")
    print(f"  second set-up / first set-up: {second['setup'] / first['setup']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
