"""A recipe that names only local models and data makes no request to the hub: the run switches the hub
libraries offline by itself and says so; a recipe that names a hub model leaves the setting alone."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from conftest import ROOT, TINY_GPT2, classification_recipe
from toolkit.offline import hub_names
from toolkit.recipe import load_recipe


def test_what_a_recipe_would_fetch_from_the_hub(tmp_path):
    local = load_recipe(classification_recipe(tmp_path, TINY_GPT2))
    assert hub_names(local) == []
    shipped = load_recipe(str(ROOT / "recipes/classification/minilm-toy-sms.yaml"))
    assert hub_names(shipped) == []  # pkg: paths are local
    on_hub = load_recipe({**classification_recipe(tmp_path, {"name_or_path": "google-bert/bert-base-uncased"})})
    assert hub_names(on_hub) == ["google-bert/bert-base-uncased"]


def test_a_local_recipe_runs_offline_without_being_told(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(classification_recipe(tmp_path, TINY_GPT2)), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE",
                                                                                    "HF_DATASETS_OFFLINE")}
    done = subprocess.run([sys.executable, "-m", "toolkit", "check", str(path)], capture_output=True, text=True,
                          env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hub: offline (the recipe names only local models and data" in done.stdout
