"""Fine-tune GPT-2 and BERT-class models from recipe files: thin wrappers over transformers and TRL."""

from toolkit.api import check, compare, evaluate, fill_mask, generate, predict, report, score, train
from toolkit.corpus import prepare_corpus
from toolkit.errors import ToolkitError
from toolkit.tokenizer import train_bpe
from toolkit.recipe import Recipe, load_recipe
from toolkit.run import TrainResult

__all__ = ["train", "check", "evaluate", "predict", "score", "generate", "fill_mask", "report", "compare",
           "prepare_corpus", "train_bpe", "load_recipe", "Recipe", "TrainResult", "ToolkitError"]
__version__ = "0.1.0"
