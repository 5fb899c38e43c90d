"""Every command of the README's set-up and "Use it" sections, in the order written, in a fresh folder holding
what a clone holds (recipes/, the toolkit/ package with its assets), as a newcomer types them. The main job (the
first `toolkit train`) runs as written, so its printed test accuracy is checked; every later training is shrunk
to two optimizer steps per stage by an override; nothing else changes. Lines that need a placeholder filled in
(RECIPE), real data (TOOLKIT_REAL_DATA), the set-up of the environment itself or the test suite are left out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

# Two optimizer steps teach a policy nothing, so the reward preflight would refuse the RL stages after them: it
# warns instead (the option is read by RL recipes only).
SHRINK = ["training.max_steps=2", "rl.preflight=warn"]
# The main job's test accuracy on the shipped SMS Spam Collection: a run on the synthetic toy set scores 1.000,
# above the band, and one that learnt nothing about 0.5, below it.
MAIN_JOB_ACCURACY = (0.95, 0.995)
SKIP = ("python3 -m venv", "pip install", "ruff check", "python -m pytest", "RECIPE", "TOOLKIT_REAL_DATA",
        "benchmarks/")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text[:text.index("\n## Recipes")]  # set-up, demo and "Use it": what a newcomer runs first
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    return [line for line in lines if not line.startswith("#") and not any(skip in line for skip in SKIP)]


def shrunk(command: str, shrink: bool = True) -> str:
    """`toolkit train|launch ...` with the shrinking overrides (before launch's `--`) unless told not to;
    `toolkit` run by this interpreter, so the test needs no activated environment."""
    code = command.split("  #")[0].strip()
    words = code.split(" ")
    if shrink and words[0] == "toolkit" and words[1] in ("train", "launch"):
        at = words.index("--") if "--" in words else len(words)
        words[at:at] = SHRINK
    if words[0] == "toolkit":
        words[0:1] = [sys.executable, "-m", "toolkit"]
    return " ".join(words)


@pytest.mark.slow
def test_the_readme_runs_in_order_in_a_fresh_folder(tmp_path):
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    shutil.copytree(ROOT / "toolkit", tmp_path / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    commands = readme_commands()
    assert any("toolkit launch" in c for c in commands) and any("toolkit chat" in c for c in commands)
    main_job = next(c for c in commands if c.startswith("toolkit train "))
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    outputs = {}
    for command in commands:
        stdin = "What is hot?\n\n" if " chat " in f" {command} " else None
        done = subprocess.run(shrunk(command, shrink=command != main_job), shell=True, cwd=tmp_path,
                              capture_output=True, text=True, input=stdin, timeout=900, env=env)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        outputs[command] = done.stdout
    accuracy = float(re.search(r"^test: accuracy ([0-9.]+)", outputs[main_job], re.M).group(1))
    assert MAIN_JOB_ACCURACY[0] <= accuracy <= MAIN_JOB_ACCURACY[1], f"{main_job}: test accuracy {accuracy}"
    check = next(out for command, out in outputs.items() if command.startswith("toolkit check"))
    assert "train refuses it unless told --overwrite" in " ".join(check.split())  # said, not refused (YAML wraps)
    predicted = next(out for command, out in outputs.items() if command.startswith("toolkit predict"))
    assert predicted.count('"label"') == 2
    assert (tmp_path / "runs" / "dpo-vs-kto.html").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["recipes", "runs", "toolkit"]  # all under runs/
