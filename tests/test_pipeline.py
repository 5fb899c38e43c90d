"""Pipelines run stages in order, each stage reading the previous one's output, and skip finished stages."""

from __future__ import annotations

import json
import shutil

import yaml

import toolkit
from conftest import ROOT, TINY_GPT2
from toolkit.cli import main


def test_pretrain_then_sft_chains_and_resumes(tmp_path, capsys):
    pretrain = {"task": "pretrain", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 800}},
                "data": {"train": str(ROOT / "toolkit/assets/pydoc_corpus.jsonl"), "max_length": 64},
                "training": {"output_dir": str(tmp_path / "base"), "max_steps": 5, "disable_tqdm": True}}
    sft = {"task": "sft", "model": {"name_or_path": str(tmp_path / "base")},
           "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 64},
           "training": {"output_dir": str(tmp_path / "chat"), "max_steps": 5, "disable_tqdm": True}}
    for name, recipe in (("pretrain.yaml", pretrain), ("sft.yaml", sft)):
        (tmp_path / name).write_text(yaml.safe_dump(recipe))
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"pipeline": [str(tmp_path / "pretrain.yaml"), str(tmp_path / "sft.yaml")]}))

    results = toolkit.train(pipeline)
    assert [r.output_dir.name for r in results] == ["base", "chat"]
    lineage = json.loads((tmp_path / "chat" / "lineage.json").read_text())
    assert lineage["model"] == str(tmp_path / "base") and lineage["parent"]["task"] == "pretrain"
    chat_tokenizer = json.loads((tmp_path / "chat" / "tokenizer_config.json").read_text())
    assert (tmp_path / "chat" / "chat_template.jinja").is_file() or "chat_template" in chat_tokenizer

    stamp = (tmp_path / "base" / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["train", str(pipeline)]) == 0
    out = capsys.readouterr().out
    assert out.count("already holds a finished run") == 2
    assert (tmp_path / "base" / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_bad_later_stage_fails_before_any_training(tmp_path, capsys):
    pipeline = tmp_path / "pipeline.yaml"
    bad = {"task": "sft", "model": {"name_or_path": "x"}, "data": {"train": "y.jsonl"},
           "training": {"learnin_rate": 1}}
    good = str(ROOT / "recipes/pretrain/gpt2-tiny-pydoc.yaml")
    pipeline.write_text(yaml.safe_dump({"pipeline": [good, bad]}))
    assert main(["check", str(pipeline)]) == 2
    assert "unknown key 'learnin_rate'" in capsys.readouterr().err
    assert main(["train", str(pipeline)]) == 2
    assert "unknown key 'learnin_rate'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # stage 1 never started


def test_check_describes_each_stage(tmp_path):
    # The pipeline names its stages from the project's root, as the README runs it; a copy keeps runs/ clean.
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    facts = toolkit.check("recipes/pipelines/generative-demo.yaml")
    assert [f.get("task") for f in facts] == ["pretrain", "sft"]
    assert facts[0]["parameters"] > 0 and "from an earlier stage" in facts[1]["model"]


def shrink_stage(path) -> None:
    """A shipped stage made tiny: a few steps on a small slice; stages keep reading earlier stages' outputs."""
    raw = yaml.safe_load(path.read_text())
    if "architecture" in raw["model"]:
        raw["model"].update(config=TINY_GPT2["config"], tokenizer={"vocab_size": 800})
    raw["data"].update(limit=64, max_length=64)
    raw["training"].update(max_steps=3, disable_tqdm=True)
    if raw["task"] == "rlhf":
        raw["training"].update(per_device_train_batch_size=4, num_generations=4, max_completion_length=8)
    if "eval" in raw:
        raw["eval"]["max_new_tokens"] = 4
    path.write_text(yaml.safe_dump(raw))


def test_shipped_alignment_pipelines_run_end_to_end_and_share_finished_stages(tmp_path, capsys):
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    for pipeline in ("rlhf-demo", "sft-dpo-demo"):
        for stage in yaml.safe_load((tmp_path / f"recipes/pipelines/{pipeline}.yaml").read_text())["pipeline"]:
            shrink_stage(tmp_path / stage)

    rlhf = toolkit.train("recipes/pipelines/rlhf-demo.yaml")  # pretrain -> SFT -> reward model -> GRPO
    assert [r.output_dir.name for r in rlhf] == ["gpt2-tiny-pydoc", "gpt2-tiny-toy-instructions",
                                              "gpt2-sft-toy-preferences", "gpt2-tiny-toy-rlhf"]
    lineage = json.loads((tmp_path / "runs/gpt2-tiny-toy-rlhf/lineage.json").read_text())
    assert lineage["model"] == "runs/gpt2-tiny-toy-instructions" and lineage["parent"]["task"] == "sft"
    assert "runs/gpt2-sft-toy-preferences" in json.dumps(lineage)  # the reward model it was optimised against

    capsys.readouterr()
    dpo = toolkit.train("recipes/pipelines/sft-dpo-demo.yaml")  # pretrain and SFT are done: only DPO trains
    assert capsys.readouterr().out.count("already holds a finished run") == 2
    assert [r.output_dir.name for r in dpo][-1] == "gpt2-tiny-toy-dpo" and len(dpo) == 3
    lineage = json.loads((tmp_path / "runs/gpt2-tiny-toy-dpo/lineage.json").read_text())
    assert lineage["model"] == "runs/gpt2-tiny-toy-instructions" and lineage["parent"]["task"] == "sft"
    assert (tmp_path / "runs/gpt2-tiny-toy-dpo/model.safetensors").is_file()


def test_a_stage_without_an_output_dir_is_skipped_by_check_and_train_alike(tmp_path, capsys):
    """Stages left to the default folder (runs/<recipe name>): check and train follow one rule for it."""
    pretrain = {"task": "pretrain", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 600}},
                "data": {"train": str(ROOT / "toolkit/assets/pydoc_corpus.jsonl"), "max_length": 32, "limit": 200},
                "training": {"max_steps": 2, "disable_tqdm": True}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(pretrain))
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"pipeline": [str(tmp_path / "base.yaml")]}))
    assert main(["train", str(pipeline)]) == 0
    assert (tmp_path / "runs" / "base" / "run.json").is_file()  # the tests run in tmp_path
    assert "skipped" in toolkit.check(pipeline)[0]
    capsys.readouterr()
    assert main(["train", str(pipeline)]) == 0
    assert "already holds a finished run" in capsys.readouterr().out
