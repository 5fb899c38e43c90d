"""Fine-tune GPT-2 and BERT-class models from recipe files: thin wrappers over transformers and TRL."""

from toolkit.api import check, predict, train
from toolkit.errors import ToolkitError
from toolkit.recipe import Recipe, load_recipe
from toolkit.run import TrainResult

__all__ = ["train", "check", "predict", "load_recipe", "Recipe", "TrainResult", "ToolkitError"]
__version__ = "0.1.0"
