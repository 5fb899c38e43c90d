"""The shipped data is exactly what its script writes (its provenance): the toy sets from a seed, the SMS Spam
Collection's balanced split from UCI's file; and data taken from others' work ships with its credit."""

import json
import os
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest

from conftest import ROOT
from toolkit.assets import ATTRIBUTIONS, make_sms_spam, make_toy_sms


def test_toy_sms_is_reproducible_from_its_generator():
    rows = make_toy_sms.generate()
    assert make_toy_sms.OUT.read_text(encoding="utf-8") == make_toy_sms.render(rows)
    assert len({row["text"] for row in rows}) == len(rows) == 2 * make_toy_sms.PER_LABEL
    assert sum(row["label"] == "spam" for row in rows) == make_toy_sms.PER_LABEL


def test_toy_instructions_and_preferences_are_reproducible():
    from toolkit.assets import make_toy_instructions, make_toy_preferences

    assert make_toy_instructions.OUT.read_text(encoding="utf-8") == make_toy_instructions.render(
        make_toy_instructions.examples())
    pairs = make_toy_preferences.pairs()
    assert make_toy_preferences.OUT.read_text(encoding="utf-8") == make_toy_preferences.render(pairs)
    assert all(row["chosen"] != row["rejected"] for row in pairs)


def test_arithmetic_pools_are_reproducible_and_disjoint():
    from toolkit.assets import make_arithmetic

    questions = []
    for path, text in make_arithmetic.rendered().items():
        assert path.read_text(encoding="utf-8") == text
        questions.append({line.split('"prompt": ')[1].split('"')[1] for line in text.splitlines()})
    sft, rl, test = questions
    assert not (sft & rl or sft & test or rl & test)


def test_reversal_pools_are_reproducible_and_disjoint():
    import json

    from toolkit.assets import make_reversal

    pools = []
    for path, text in make_reversal.rendered().items():
        assert path.read_text(encoding="utf-8") == text
        rows = [json.loads(line) for line in text.splitlines()]
        assert all(r["answer"] == " ".join(reversed(r["prompt"].split(": ")[1].split())) for r in rows)
        pools.append({r["prompt"] for r in rows})
    assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])


def test_sms_spam_is_the_books_balanced_split():
    splits = {name: [json.loads(line) for line in (make_sms_spam.HERE / f"sms_spam_{name}.jsonl").read_text(
        encoding="utf-8").splitlines()] for name in ("train", "validation", "test")}
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 1045, "validation": 149, "test": 300}
    labels = [row["label"] for rows in splits.values() for row in rows]
    assert labels.count("spam") == labels.count("ham") == 747
    assert all(set(row) == {"text", "label"} and row["text"] for rows in splits.values() for row in rows)


def test_sms_spam_is_reproducible_from_the_original_collection():
    """Needs UCI's file, which does not ship: TOOLKIT_REAL_DATA names a folder holding sms_spam/SMSSpamCollection.tsv."""
    real = os.environ.get("TOOLKIT_REAL_DATA")
    if not real:
        pytest.skip("TOOLKIT_REAL_DATA is not set: the original SMS Spam Collection is not here")
    collection = make_sms_spam.read_collection(Path(real) / "sms_spam" / "SMSSpamCollection.tsv")
    assert len(collection) == 5574 and sum(row["label"] == "spam" for row in collection) == 747
    for path, text in make_sms_spam.rendered(Path(real) / "sms_spam" / "SMSSpamCollection.tsv").items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is not what make_sms_spam.py writes"


def test_data_from_others_ships_with_its_licence_and_reaches_the_model_card():
    from toolkit.report import data_credits

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    shipped = json.loads(re.search(r'^"toolkit.assets" = (\[.*\])$', pyproject, re.M).group(1))  # package-data
    for name in [*ATTRIBUTIONS, "SMS_SPAM_LICENSE.md"]:
        assert (make_sms_spam.HERE / name).is_file() and any(fnmatch(name, pattern) for pattern in shipped), name
    licence = (make_sms_spam.HERE / "SMS_SPAM_LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "https://archive.ics.uci.edu/dataset/228/sms+spam+collection" in licence
    data = {name: f"pkg:toolkit/assets/sms_spam_{name}.jsonl" for name in ("train", "validation", "test")}
    credits = data_credits(data)
    assert len(credits) == 1 and "Almeida" in credits[0].text and "CC BY 4.0" in credits[0].text
    assert data_credits({"train": str(ROOT / "toolkit" / "assets" / "sms_spam_train.jsonl")}) == credits
    assert not data_credits({"train": "pkg:toolkit/assets/toy_sms.jsonl", "test": "data/sms_spam_test.jsonl"})
