"""How a GPT built from a config starts, and when that start is known to stall small-batch pretraining.

transformers initialises GPT-2 with every weight drawn from N(0, 0.02), the embeddings included, and ties the
output head to the token embeddings. On a 5k-token text with batches of 2 × 256 tokens at lr 4e-4 (a published
from-scratch protocol), the 12 × 768 model sits at the unigram plateau (train loss about 5) for all 100 steps,
in a plain PyTorch loop as through the pretrain task, fp32 or bf16, constant or decaying learning rate. The
published loop's own model draws its embeddings from N(0, 1) and has an untied head; given that start
(model.embedding_init_std: 1.0 and model.config.tie_word_embeddings: false), the same model leaves the plateau
by step 30 under the toolkit's defaults (benchmarks/pretrain_reference.py, benchmarks/RESULTS.md). On a small
model that start learns slower, so it is a recipe's choice, not the default. Untying alone does not, and N(0, 1)
embeddings on a tied head make the logits √d times too large."""

from __future__ import annotations

from toolkit.errors import ToolkitError

SMALL_BATCH_TOKENS = 4096  # tokens per optimizer step below which the stall was seen (512 in the benchmark)
LARGE_MODEL_PARAMETERS = 20_000_000  # the 124M config stalled; the shipped 2 x 128 one (1M) learns as expected


def check_embedding_init(model, where: str) -> None:
    """model: the recipe's ModelSpec."""
    if model.name_or_path:
        raise ToolkitError(f"{where}: model.embedding_init_std applies to a model built from a config "
                           f"(architecture + config); a checkpoint's weights are its own. Remove the key.")
    if model.embedding_init_std <= 0:
        raise ToolkitError(f"{where}: model.embedding_init_std is {model.embedding_init_std}; it must be positive.")
    if model.config.get("tie_word_embeddings", True):
        raise ToolkitError(f"{where}: model.embedding_init_std draws the token embeddings that a tied output head "
                           f"shares, so the logits would grow with it. Add tie_word_embeddings: false to "
                           f"model.config (the published from-scratch GPT has its own output head).")


def stall_warning(recipe, parameters: int, tokens_per_step: int) -> str | None:
    """A warning for the setting known to stall, or None."""
    spec = recipe.model
    if spec.name_or_path or spec.embedding_init_std is not None or recipe.task != "pretrain":
        return None
    if parameters < LARGE_MODEL_PARAMETERS or tokens_per_step >= SMALL_BATCH_TOKENS:
        return None
    return (f"a {parameters / 1e6:.0f}M-parameter model built from config with transformers' initialisation "
            f"(N(0, 0.02), tied head), trained on {tokens_per_step} tokens per step: this combination sat at the "
            f"unigram plateau for a whole run in benchmarks/pretrain_reference.py. The published from-scratch "
            f"start leaves it: model.embedding_init_std: 1.0 with model.config.tie_word_embeddings: false.")
