"""The README's commands stay true: CI runs the same set-up and test command, the demo recipe exists."""

import re

import pytest

from conftest import ROOT


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_setup_and_test_command():
    commands = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    setup = next(c for c in commands if c.startswith("pip install torch"))
    assert setup in ci
    test = next(c for c in commands if "pytest" in c)
    assert "ruff check ." in test and ci[-1] == test


def test_readme_demo_recipe_exists():
    demo = next(c for c in readme_commands() if c.startswith("toolkit train "))
    assert (ROOT / demo.split()[2]).is_file()


@pytest.mark.slow
def test_readme_demo_runs_as_written(tmp_path):
    """The README's main command, with only the output folder moved: a real pretrained BERT on real data, offline."""
    import json
    import subprocess
    import sys

    demo = next(c for c in readme_commands() if c.startswith("toolkit train ")).split()
    recipe = str(ROOT / demo[2])
    done = subprocess.run([sys.executable, "-m", "toolkit", "train", recipe,
                           f"training.output_dir={tmp_path / 'demo'}"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test: accuracy" in done.stdout and f"outputs in {tmp_path / 'demo'}" in done.stdout
    from test_readme_commands import MAIN_JOB_ACCURACY

    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert MAIN_JOB_ACCURACY[0] <= metrics["test"]["accuracy"] <= MAIN_JOB_ACCURACY[1]

    # Its report, as a person sees it: the curves and the confusion matrices render in a real browser.
    from browser import screenshot

    shot = ROOT / "test-artifacts" / "classification-demo-report.png"
    images = screenshot(tmp_path / "demo" / "report.html", shot)
    assert {i["alt"] for i in images} >= {"loss_curve", "confusion_test", "confusion_validation"}
    assert all(i["width"] > 100 and i["height"] > 100 and i["shown"] > 100 for i in images), images
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000


@pytest.mark.slow
def test_readme_generative_demo_runs_as_written(tmp_path):
    """The chained demo from a copy of recipes/ (so its runs/ stay in the test's folder): samples before and
    after each stage, and the SFT model answers in the trained form."""
    import shutil
    import subprocess
    import sys

    demo = next(c for c in readme_commands() if "pipelines/" in c).split()
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    done = subprocess.run([sys.executable, "-m", "toolkit", *demo[1:]], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("[before]") >= 5 and "stage 2/2: sft" in done.stdout
    assert "'What is the capital of France?' -> 'The capital of France is" in done.stdout


def test_version_help_and_recipe_listing_answer_at_once(tmp_path):
    """Without loading torch: --version, --help and `toolkit recipes` (the shipped recipes, with what each does)."""
    import shutil
    import subprocess
    import sys

    version = subprocess.run([sys.executable, "-X", "importtime", "-m", "toolkit", "--version"],
                             capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("toolkit ")
    assert " torch" not in version.stderr.replace("|", " ")  # importtime lists every module imported
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    listing = subprocess.run([sys.executable, "-m", "toolkit", "recipes"], capture_output=True, text=True,
                             cwd=tmp_path)
    assert listing.returncode == 0
    assert "recipes/classification/minilm-toy-sms.yaml  Spam / ham classifier" in listing.stdout
    assert "accelerate" not in listing.stdout
    missing = subprocess.run([sys.executable, "-m", "toolkit", "recipes", "--dir", "nowhere"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "clone of the repository" in missing.stderr


def test_a_recipe_is_listed_with_its_whole_first_sentence():
    from toolkit.cli import first_sentence

    assert first_sentence("# One line, a whole sentence. Then more.\n# More.\ntask: sft\n") == \
        "One line, a whole sentence."
    assert first_sentence("# A sentence that runs on,\n# e.g. over two lines (and more). Next.\n") == \
        "A sentence that runs on, e.g. over two lines (and more)."
    assert first_sentence("# Unfinished\n#   toolkit train x.yaml\n") == "Unfinished"
