"""model.lm_head: TRL's fused LM head on a CPU, compact (labelled positions only, narrow vocabulary tiles) or as
TRL ships it. Both must give the same loss, metrics and gradients; compact must project fewer positions."""

from __future__ import annotations

import pytest
import torch
import trl.trainer.utils as trl_utils
from transformers import GPT2Config, GPT2LMHeadModel

import toolkit
from toolkit.errors import ToolkitError
from toolkit.lm_head import CPU_VOCAB_TILE, lm_head_mode

from conftest import TINY_GPT2


def batch(vocab: int):
    """Two rows: a prompt (no labels), a reply (labels), and right padding on the second."""
    torch.manual_seed(0)
    ids = torch.randint(0, vocab, (2, 24))
    mask = torch.ones_like(ids)
    mask[1, 18:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :10] = -100  # the prompt
    return ids, mask, labels


def step(mode: str) -> dict:
    """One SFT-style forward and backward through TRL's fused head, as SFTTrainer.compute_loss runs it."""
    torch.manual_seed(0)
    vocab = 3 * CPU_VOCAB_TILE + 100  # several tiles in compact mode
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_layer=2, n_embd=32, n_head=2, n_positions=64))
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids, mask, labels = batch(vocab)
    with lm_head_mode(mode):
        out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        out.loss.backward()
    return {"loss": out.loss.detach(), "entropy": out.entropy.detach(), "top1": out.is_top1,
            "grads": {name: p.grad.clone() for name, p in model.named_parameters()}}


def recording(projected: list[int]):
    shipped = trl_utils._ChunkedLogProbFunction

    class Recording(shipped):
        @staticmethod
        def forward(ctx, hidden, *args):
            projected.append(hidden.shape[0])
            return shipped.forward(ctx, hidden, *args)

    return Recording


def test_compact_head_matches_trl_and_projects_only_labelled_positions(monkeypatch):
    projected: list[int] = []
    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", recording(projected))
    shipped, compact = step("trl"), step("compact")
    labelled = int((batch(3 * CPU_VOCAB_TILE + 100)[2][:, 1:] != -100).sum())
    assert projected == [2 * 23, labelled]  # every next-token position, then only the labelled ones
    assert torch.allclose(shipped["loss"], compact["loss"], rtol=1e-5)
    assert torch.allclose(shipped["entropy"], compact["entropy"], rtol=1e-5, atol=1e-5)
    assert torch.equal(shipped["top1"], compact["top1"])
    for name, grad in shipped["grads"].items():
        assert torch.allclose(grad, compact["grads"][name], rtol=1e-4, atol=1e-6), name


def test_compact_mode_holds_inside_its_block_only():
    shipped = (trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
    with pytest.raises(RuntimeError), lm_head_mode("compact"):
        assert trl_utils._use_triton(torch.device("cpu")) and trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE == CPU_VOCAB_TILE
        raise RuntimeError("training failed")
    assert (trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE) == shipped


def sft_recipe(tmp_path, **model) -> dict:
    from conftest import ROOT

    return {"task": "sft", "model": {**TINY_GPT2, **model},
            "data": {"train": str(ROOT / "toolkit/assets/toy_instructions.jsonl"), "max_length": 64},
            "training": {"output_dir": str(tmp_path / "run"), "max_steps": 2}}


def test_check_says_which_head_runs_and_the_recipe_overrides_it(tmp_path):
    assert toolkit.check(sft_recipe(tmp_path))["settings"]["lm_head"] == "compact (toolkit default for this device)"
    assert toolkit.check(sft_recipe(tmp_path, lm_head="trl"))["settings"]["lm_head"] == "trl (recipe)"
    assert trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE != CPU_VOCAB_TILE  # checking a recipe leaves TRL as shipped
    with pytest.raises(ToolkitError, match="model.lm_head 'fast' is not one of compact, trl"):
        toolkit.check(sft_recipe(tmp_path, lm_head="fast"))
