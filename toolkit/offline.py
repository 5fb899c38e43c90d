"""The hub offline when a run needs nothing from it: a recipe whose models, tokenizer and data are all local files
(or inside an installed package, or built from a config) switches huggingface_hub, transformers and datasets to
offline mode before anything loads, and says so.

Online, every name a library could look up costs a request (a missing hub name, 55 s of retries before the error
that names it), and TRL's trainers send an anonymous usage ping; a run that needs nothing from the hub should make
no request at all. A recipe that names a hub model or dataset leaves the setting as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.data.paths import PACKAGE_PREFIX
from toolkit.recipe import Recipe, TokenizerSpec


def is_local(name: str) -> bool:
    return name.startswith(PACKAGE_PREFIX) or Path(name).expanduser().exists()


def hub_names(recipe: Recipe) -> list[str]:
    """What the recipe would fetch from the hub: every model, tokenizer or dataset it names that is not a local
    path."""
    data = recipe.data
    names = [recipe.model.name_or_path, None if isinstance(recipe.model.tokenizer, TokenizerSpec) else
             recipe.model.tokenizer, data.name, data.train, data.validation, data.test, recipe.eval.judge]
    names += [getattr(source, "id", None) for source in (data.mixture.datasets if data.mixture else [])]
    names += [reward.get("model") for reward in (recipe.rl.rewards if recipe.rl else []) if isinstance(reward, dict)]
    return [str(name) for name in names if name and not is_local(str(name))]


def is_offline() -> bool:
    import huggingface_hub.constants

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def offline_if_local(recipe: Recipe) -> str | None:
    """Switch the hub libraries offline when the recipe needs nothing from the hub; the line that says so, or None
    (already offline, or the recipe names something on the hub)."""
    if is_offline() or hub_names(recipe):
        return None
    import datasets.config
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"  # processes this one starts
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # read when each request is made, in this process
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    return "hub: offline (the recipe names only local models and data; no request is made)"
