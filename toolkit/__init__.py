"""Fine-tune GPT-2 and BERT-class models from recipe files: thin wrappers over transformers and TRL.

The names below load on first use, so `toolkit --help` and `toolkit --version` answer without importing
torch and transformers."""

import importlib

__version__ = "0.1.0"

_WHERE = {"train": "toolkit.api", "check": "toolkit.api", "init": "toolkit.api", "evaluate": "toolkit.api", "predict": "toolkit.api",
          "score": "toolkit.api", "generate": "toolkit.api", "fill_mask": "toolkit.api", "load": "toolkit.api", "report": "toolkit.api",
          "compare": "toolkit.api", "prepare_corpus_files": "toolkit.api", "tokenize": "toolkit.api", "judge_runs": "toolkit.api", "harness": "toolkit.api",
          "prepare_corpus": "toolkit.data.corpus", "train_bpe": "toolkit.tokenizer",
          "load_recipe": "toolkit.recipe", "Recipe": "toolkit.recipe", "TrainResult": "toolkit.run",
          "ToolkitError": "toolkit.errors"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'toolkit' has no attribute '{name}'")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
