"""from_pretrained under the toolkit's rules, for every model, tokenizer and config it loads (a recipe's, a saved
run's, a judge's): local folders never touch the hub, a folder's own Python code (auto_map) never runs unless
asked, and what cannot be loaded is one line, never the library's traceback or torch's advice to switch its pickle
check off."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

from toolkit.errors import ToolkitError

CODE_FILES = ("config.json", "tokenizer_config.json")  # where transformers reads auto_map
TRUST_HINT = "If you trust that code: --trust-remote-code (in a recipe: model.trust_remote_code: true)."


def custom_code(folder: Path) -> str | None:
    """The file in a model folder that asks transformers to import the folder's own Python code, if any."""
    for name in CODE_FILES:
        try:
            settings = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(settings, dict) and settings.get("auto_map"):
            return name
    return None


def refuse_custom_code(folder: Path, trusted: bool, where: str) -> None:
    """transformers asks on the terminal whether to run such code (and runs it on 'y'); the toolkit refuses it."""
    asking = None if trusted else custom_code(folder)
    if asking:
        raise ToolkitError(f"{where}: {Path(folder) / asking} asks to run Python code from the folder (auto_map); "
                           f"remote code is off. {TRUST_HINT}")


def refused_global(error: BaseException) -> str | None:
    """What torch's weights-only unpickler refused (e.g. 'argparse.Namespace'), if that is what `error` is."""
    while error is not None:
        if isinstance(error, pickle.UnpicklingError):
            found = re.search(r"GLOBAL ([\w.]+)", str(error))
            return found.group(1) if found else "an object that is not a tensor"
        error = error.__cause__ or error.__context__
    return None


def refused_pickles(folder: Path) -> list[tuple[Path, str]]:
    """(file, what it holds) for each torch file in `folder` that torch refuses to load as plain tensors. Memory-
    mapped, so only the pickle is read, not the tensors."""
    import torch

    found = []
    for path in sorted(p for pattern in ("*.bin", "*.pt", "*.pth") for p in Path(folder).glob(pattern)):
        try:
            torch.load(path, weights_only=True, mmap=True, map_location="cpu")
        except pickle.UnpicklingError as error:
            found.append((path, refused_global(error)))
        except Exception:  # noqa: BLE001  (not a pickle problem: the loader that needs the file will say what is)
            continue
    return found


def pickle_refusal(folder: Path, error: BaseException, fix: str) -> ToolkitError | None:
    """The one line for torch refusing a pickle in `folder` (naming the file when it can be found), or None."""
    held = refused_global(error)
    if held is None:
        return None
    files = refused_pickles(folder)
    path, held = files[0] if files else (Path(folder), held)
    return ToolkitError(f"{path}: torch refused to load it: besides tensors it holds a pickled {held}, and loading "
                        f"a pickle can run code. {fix}")


def from_pretrained(loader, target: str, is_local: bool, where: str, what: str, trust_remote_code: bool = False,
                    shown: str | None = None, **kwargs):
    """`loader(target, ...)` (e.g. AutoTokenizer.from_pretrained) with remote code off unless trusted, local files
    only for a local folder, and one line for what fails. shown: the name the user gave (default: target)."""
    shown = shown or target
    if is_local:
        if not Path(target).is_dir():
            raise ToolkitError(f"{where}: '{shown}' is a file; a {what} is loaded from a folder.")
        refuse_custom_code(Path(target), trust_remote_code, where)
    try:
        return loader(target, local_files_only=is_local, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        refused = pickle_refusal(Path(target), error, "The toolkit loads plain tensors only: use weights saved as "
                                 "safetensors (save_pretrained writes model.safetensors).") if is_local else None
        if refused:
            raise refused from error
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = ("the folder must hold what save_pretrained writes (config.json, weights, tokenizer files)"
                if is_local else "a hub id needs a network; without one, use a local folder")
        raise ToolkitError(f"{where}: could not load the {what} from '{shown}': {first}. Note: {hint}.") from error


def saved_model(auto_class, folder, trust_remote_code: bool = False, **kwargs):
    """A model from a saved folder (a finished run's, or any save_pretrained output)."""
    return from_pretrained(auto_class.from_pretrained, str(folder), True, str(folder), "model", trust_remote_code,
                           **kwargs)


def saved_tokenizer(folder, trust_remote_code: bool = False):
    """The tokenizer saved in a folder. A folder without any tokenizer file still gives transformers a tokenizer,
    with an empty vocabulary that turns every text into nothing: refused here."""
    from transformers import AutoTokenizer

    tokenizer = from_pretrained(AutoTokenizer.from_pretrained, str(folder), True, str(folder), "tokenizer",
                                trust_remote_code)
    if getattr(tokenizer, "vocab_size", None) == 0:
        raise ToolkitError(f"{folder}: holds no tokenizer files (tokenizer.json, or vocabulary files): save the "
                           f"tokenizer with the model (tokenizer.save_pretrained), or copy its files there.")
    return tokenizer
