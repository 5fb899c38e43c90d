"""The user's files are sacred: a run writes only into a folder the toolkit made (or found empty), replaces only
what a run wrote, never runs two at once into one folder, and says so in one line when it refuses. Every
destructive case uses temporary folders and a fake HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY_GPT2, classification_recipe
from toolkit.cli import main
from toolkit.owned_folder import MARK
from toolkit.run_lock import HOLDER

SMALL = {**TINY_GPT2, "config": {**TINY_GPT2["config"], "n_layer": 1, "n_embd": 32}}


def recipe_file(folder: Path, output_dir, **training) -> Path:
    recipe = classification_recipe(folder, SMALL, **{"max_steps": 2, **training})
    recipe["data"]["limit"] = 100
    recipe["training"]["output_dir"] = output_dir
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but for the caches libraries keep in a (fake) home folder."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in (".cache", ".config")}


def a_project(folder: Path) -> Path:
    """A user's project folder: notes, data, a secret."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.md").write_text("my notes")
    (folder / ".ssh").mkdir(exist_ok=True)
    (folder / ".ssh" / "id_ed25519").write_text("secret")
    return folder


@pytest.mark.parametrize("output_dir", [".", "..", "~", "project"])
def test_a_folder_that_holds_the_users_things_is_never_a_run_folder(output_dir, tmp_path, capsys, monkeypatch):
    """`output_dir: .` from a project folder, `~`, a parent of the current folder, the folder holding the recipe:
    refused with --overwrite too, and nothing in them changes."""
    home = a_project(tmp_path / "home")
    project = a_project(home / "project")
    work = a_project(project / "work")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    path = recipe_file(project, str(project) if output_dir == "project" else output_dir)
    before = snapshot(home)
    assert main(["train", str(path), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "the toolkit never writes a run there" in err and err.count("\n") == 1, err
    assert snapshot(home) == before
    assert main(["check", str(path), "--overwrite"]) == 0
    assert "train refuses" in capsys.readouterr().out


def test_the_root_of_the_file_system_is_refused(tmp_path, capsys):
    """Checked read-only, by `toolkit check`: train refuses the same plan before it touches anything."""
    path = recipe_file(tmp_path, "/")
    assert main(["check", str(path), "--overwrite"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "train refuses /: the toolkit never writes a run there (it is the root of the file system)" in out


@pytest.mark.parametrize("with_run_json", [False, True])
def test_a_folder_of_the_users_is_refused_with_or_without_overwrite(with_run_json, tmp_path, capsys):
    mine = a_project(tmp_path / "mine")
    (mine / "README.md").write_text("my readme")
    (mine / "config.json").write_text("{}")
    if with_run_json:  # a run.json alone does not make a folder the toolkit's
        (mine / "run.json").write_text("{}")
    path = recipe_file(tmp_path, str(mine))
    before = snapshot(mine)
    for flags in ([], ["--overwrite"], ["--resume"]):
        assert main(["train", str(path), *flags]) == 2
        err = capsys.readouterr().err
        assert "holds files the toolkit did not write (.ssh, README.md, config.json, notes.md" in err, err
    assert snapshot(mine) == before


def test_home_relative_and_empty_output_dirs_are_one_path_for_every_command(tmp_path, capsys, monkeypatch):
    """`~/myrun` is the home folder's myrun for the refusal and the trainer alike; an empty output_dir is
    runs/<recipe name> for check and train alike."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    path = recipe_file(tmp_path, "~/myrun")
    assert main(["check", str(path)]) == 0
    assert f"train writes a new run to {home / 'myrun'}" in capsys.readouterr().out
    assert main(["train", str(path)]) == 0
    assert (home / "myrun" / "run.json").is_file() and not (tmp_path / "~").exists()
    assert main(["train", str(path)]) == 2
    assert "already holds a finished run" in capsys.readouterr().err

    for empty in ("", None):
        path = recipe_file(tmp_path, empty)
        assert main(["check", str(path), "--overwrite"]) == 0
        assert "runs/recipe" in capsys.readouterr().out
        assert main(["train", str(path), "--overwrite"]) == 0
        assert (tmp_path / "runs" / "recipe" / "run.json").is_file()
    assert not (tmp_path / "trainer_output").exists()


def test_overwrite_replaces_only_what_the_run_wrote(tmp_path, capsys):
    path = recipe_file(tmp_path, str(tmp_path / "run"))
    assert main(["train", str(path)]) == 0
    run = tmp_path / "run"
    written = set(json.loads((run / "run.json").read_text())["files"])
    assert {"model.safetensors", "metrics.json", "run.json", "report.html"} <= written
    (run / "analysis.ipynb").write_text("the user's notebook")
    (run / "figures").mkdir()
    (run / "figures" / "plot.svg").write_text("<svg/>")
    capsys.readouterr()
    assert main(["check", str(path), "--overwrite"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    for name in written:  # check names exactly what train moves aside, and what it keeps
        assert name in said
    assert "it keeps analysis.ipynb, figures, which the run did not write" in said
    assert main(["train", str(path), "--overwrite"]) == 0
    assert (run / "analysis.ipynb").read_text() == "the user's notebook"
    assert (run / "figures" / "plot.svg").read_text() == "<svg/>"
    assert not (run / ".previous").exists()
    assert "analysis.ipynb" not in json.loads((run / "run.json").read_text())["files"]


def train_process(path: Path, *flags: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "toolkit", "train", str(path), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow
def test_two_runs_into_one_folder_one_refuses_and_the_other_is_whole(tmp_path):
    output = tmp_path / "run"
    path = recipe_file(tmp_path, str(output), max_steps=400, logging_steps=50)
    first = train_process(path)
    deadline = time.time() + 120
    while not (output / HOLDER).exists():
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.05)
    second = train_process(path, "--overwrite")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2, err[-2000:]
    assert f"another run is writing there now: process {first.pid}" in err and err.count("\n") == 1, err
    assert first.poll() is None  # refused while the first still ran
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    history = json.loads((output / "log_history.json").read_text())
    assert max(row["step"] for row in history) == 400 and (output / "run.json").is_file()
    assert not (output / HOLDER).exists()  # released at the end


def test_a_lock_left_by_a_dead_process_is_taken_over_and_said(tmp_path, capsys):
    output = tmp_path / "run"
    output.mkdir()
    (output / MARK).write_text("{}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (output / HOLDER).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "then"}))
    path = recipe_file(tmp_path, str(output))
    assert main(["train", str(path)]) == 0
    assert f"took over the lock left by process {dead.pid}" in capsys.readouterr().out
    assert (output / "run.json").is_file()


def test_a_read_only_output_folder_is_refused_before_the_model_loads(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root on ext4)")
    try:
        path = recipe_file(tmp_path, str(locked / "run"))
        assert main(["check", str(path)]) == 0
        assert "cannot be written" in capsys.readouterr().out
        assert main(["train", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{locked}: cannot be written" in err and err.count("\n") == 1, err
    finally:
        subprocess.run(["chattr", "-i", str(locked)])


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB file system of its own (tmpfs), where the disk really fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)])


def test_a_full_disk_mid_run_is_one_line_that_says_where_the_previous_run_is(small_disk, tmp_path):
    output = small_disk / "run"
    path = recipe_file(tmp_path, str(output))
    assert train_process(path).communicate(timeout=300) and (output / "run.json").is_file()
    stamp = (output / "model.safetensors").read_bytes()
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))  # room for the lock, not for a model
    process = train_process(path, "--overwrite")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "no space left" in errors[0] and f"kept in {output / '.previous'}" in errors[0], err
    assert (output / ".previous" / "model.safetensors").read_bytes() == stamp


def unfinished_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run that was cut short after its checkpoints at steps 2 and 4 of 6."""
    output = tmp_path / "run"
    path = recipe_file(tmp_path, str(output), max_steps=6, save_steps=2, save_total_limit=3, save_strategy="steps")
    assert main(["train", str(path)]) == 0
    shutil.rmtree(output / "checkpoint-6")
    for item in output.iterdir():  # what a run that stopped at step 5 leaves: its checkpoints
        if item.is_file() and not item.name.startswith(".toolkit"):
            item.unlink()
    return path, output


def cut(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


@pytest.mark.parametrize("broken", ["model.safetensors", "trainer_state.json", "optimizer.pt"])
def test_resume_passes_over_a_broken_checkpoint_and_names_it(broken, tmp_path, capsys):
    path, output = unfinished_run(tmp_path)
    cut(output / "checkpoint-4" / broken)
    capsys.readouterr()
    assert main(["check", str(path), "--resume"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "from checkpoint-2 (passing over checkpoint-4:" in said and broken in said, said
    assert main(["train", str(path), "--resume"]) == 0
    history = json.loads((output / "log_history.json").read_text())
    assert max(row["step"] for row in history) == 6


def test_resume_after_a_kill_during_the_first_checkpoint_names_it(tmp_path, capsys):
    path, output = unfinished_run(tmp_path)
    shutil.rmtree(output / "checkpoint-4")
    (output / "checkpoint-2" / "trainer_state.json").unlink()  # killed while the first checkpoint was saved
    assert main(["train", str(path), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "nothing to resume (checkpoint-2: incomplete (no trainer_state.json" in err and "--overwrite" in err, err


def test_prepare_corpus_never_writes_into_a_folder_of_the_users(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text(json.dumps({"text": "A corpus document of the user's. " * 20}) + "\n")
    recipe = {"task": "pretrain", "model": SMALL, "data": {"train": str(data / "train.jsonl")},
              "training": {"output_dir": str(tmp_path / "run")}}
    path = tmp_path / "pretrain.yaml"
    path.write_text(yaml.safe_dump(recipe))
    before = snapshot(data)
    assert main(["prepare-corpus", str(path), "--output", str(data)]) == 2
    assert "holds " in capsys.readouterr().err and snapshot(data) == before
