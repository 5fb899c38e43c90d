"""Build sms_spam_{train,validation,test}.jsonl from the SMS Spam Collection (Tiago A. Almeida and José María
Gómez Hidalgo, UCI Machine Learning Repository, CC BY 4.0; see SMS_SPAM_LICENSE.md beside this file).

The split is the one of "Build a Large Language Model (From Scratch)", chapter 6: every spam message and as
many ham messages drawn at random (747 + 747), shuffled, then cut 70/10/20 in that order (1,045 / 149 / 300
rows, as the book's `int()` cuts). The seed is fixed, so the original file gives the shipped files byte for
byte (a test checks this when TOOLKIT_REAL_DATA names a folder holding sms_spam/SMSSpamCollection.tsv):

    python -m toolkit.assets.make_sms_spam path/to/SMSSpamCollection.tsv
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 123
HERE = Path(__file__).parent
HEADER = "Label\tSMS"
LABELS = ("ham", "spam")
SHARES = {"train": 0.7, "validation": 0.1}  # test: the rest


def read_collection(tsv: Path) -> list[dict]:
    """Every message of the original file, in its order. Each line is label, tab, message, with no quoting:
    a CSV reader would treat a message that starts with '"' as quoted and join it to the next lines."""
    lines = Path(tsv).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != HEADER:
        raise SystemExit(f"{tsv}: expected the header {HEADER!r}, the SMS Spam Collection as UCI's TSV.")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        label, tab, text = line.partition("\t")
        if not tab or label not in LABELS:
            raise SystemExit(f"{tsv}, line {number}: expected 'ham' or 'spam', a tab, then the message.")
        rows.append({"text": text, "label": label})
    return rows


def balanced(rows: list[dict], seed: int = SEED) -> list[dict]:
    """All spam and as many ham drawn at random, shuffled together."""
    spam = [row for row in rows if row["label"] == "spam"]
    rng = random.Random(seed)
    mixed = spam + rng.sample([row for row in rows if row["label"] == "ham"], len(spam))
    rng.shuffle(mixed)
    return mixed


def split(rows: list[dict]) -> dict[str, list[dict]]:
    n_train, n_validation = (int(share * len(rows)) for share in SHARES.values())
    return {"train": rows[:n_train], "validation": rows[n_train:n_train + n_validation],
            "test": rows[n_train + n_validation:]}


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def rendered(tsv: Path) -> dict[Path, str]:
    """File -> its text, one file per split."""
    return {HERE / f"sms_spam_{name}.jsonl": render(rows)
            for name, rows in split(balanced(read_collection(tsv))).items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m toolkit.assets.make_sms_spam path/to/SMSSpamCollection.tsv")
    for path, text in rendered(Path(sys.argv[1])).items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10))} messages to {path}")
