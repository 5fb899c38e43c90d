"""How TRL's fused LM head runs on a CPU (recipe key model.lm_head).

TRL's SFT, DPO, KTO, GRPO and RLOO trainers score tokens with one fused LM head
(trl.trainer.utils.add_fused_lm_head): hidden states are projected onto the vocabulary in tiles, and each tile
is folded into log-probabilities, entropy and top-1 hits without building the full logits. Two of its choices
were made for GPUs and cost a CPU most of its time:

- Which positions are projected. On Triton devices only the positions that have a label; everywhere else
  every position, so that compilers such as XLA see one shape. A CPU running eager PyTorch compiles nothing,
  yet falls under "everywhere else": padding and prompt tokens go through the 50k-wide projection and are
  thrown away. (TRL decides this with `_use_triton(device)`, which in trl.trainer.utils decides nothing else.)
- How wide a tile is: 32,768 vocabulary columns, sized for GPU memory. On a CPU a tile that wide falls out of
  the caches; 4,096 columns keep it in.

"compact" (the toolkit's default on a CPU) takes TRL's own label-positions path and 4,096-wide tiles; "trl"
leaves TRL as it ships. The numbers are the same either way (only fp32 summation order differs); on the
instruction benchmark SFT went from 756 to 1,836 tokens/s (benchmarks/RESULTS.md). Accelerators keep TRL's own
choices. The setting is TRL's module state: it is set for the duration of training only (lm_head_mode).
"""

from __future__ import annotations

import contextlib

MODES = ("compact", "trl")
CPU_VOCAB_TILE = 4096


def _trl_utils():
    """trl.trainer.utils if it has the two settings this module tunes (TRL 1.16 has), else None."""
    import trl.trainer.utils as trl_utils

    if hasattr(trl_utils, "_use_triton") and hasattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE"):
        return trl_utils
    return None


def default_mode(device_type: str) -> str:
    return "compact" if device_type == "cpu" else "trl"


def mode_in_force(mode: str) -> str:
    """The mode a run will use: "trl" when this TRL lacks the settings, so nothing would be changed."""
    return mode if _trl_utils() is not None else "trl"


@contextlib.contextmanager
def lm_head_mode(mode: str):
    """TRL's fused LM head in `mode` ("compact" or "trl") inside the block, TRL as shipped after it (so
    preparing or checking a recipe leaves TRL untouched)."""
    trl_utils = _trl_utils()
    if trl_utils is None or mode != "compact":
        yield
        return
    shipped = (trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
    on_triton = shipped[0]
    # Only the compaction decision changes: the folding itself still picks Triton or torch by device.
    trl_utils._use_triton = lambda device: on_triton(device) or device.type == "cpu"
    trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = CPU_VOCAB_TILE
    try:
        yield
    finally:
        trl_utils._use_triton, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = shipped
