"""SMS spam, the book's protocol, through the README's main recipe: balanced subset, 70/10/20 split, MiniLM BERT.

    python benchmarks/sms_spam.py [overrides...]

The split ships in the package (toolkit/assets/sms_spam_*.jsonl, written by toolkit/assets/make_sms_spam.py
from UCI's SMS Spam Collection): all 747 spam and 747 ham drawn at random (seed 123), shuffled, split
70/10/20 (1,045 / 149 / 300). Prints validation and test accuracy and the wall time of the whole run.
Published references on this protocol: GPT-2 small 95.67% test, GPT-2 XL 98.67%.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "classification" / "minilm-sms-spam.yaml"


def main(overrides: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import toolkit

    started = time.time()
    result = toolkit.train(RECIPE, ["overwrite=true", *overrides])
    seconds = time.time() - started
    val, test = result.metrics["validation"], result.metrics["test"]
    print(f"\nSMS spam (balanced, 70/10/20), {RECIPE.name}: validation accuracy {val['accuracy']:.4f}, "
          f"test accuracy {test['accuracy']:.4f} (test errors {round((1 - test['accuracy']) * 300)}/300), "
          f"wall time {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
