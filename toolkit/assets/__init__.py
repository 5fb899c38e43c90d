"""Data that ships in the package, each file written by a make_*.py script beside it, and the credit owed for the
files taken from others' work: a licence such as CC BY asks that whoever passes the data on names its source, so
a run's model card repeats the credit for any of these files the run read (toolkit.report)."""

from __future__ import annotations

from pathlib import PurePath

SMS_SPAM = ("SMS Spam Collection, by Tiago A. Almeida and José María Gómez Hidalgo, UCI Machine Learning Repository, "
            "https://archive.ics.uci.edu/dataset/228/sms+spam+collection, licensed CC BY 4.0 "
            "(https://creativecommons.org/licenses/by/4.0/). Changed: 747 spam and 747 ham messages drawn from it "
            "and split 70/10/20 by toolkit/assets/make_sms_spam.py (toolkit/assets/SMS_SPAM_LICENSE.md).")

# Shipped file name -> its credit. Files this project wrote itself owe none and are not listed.
ATTRIBUTIONS = {f"sms_spam_{split}.jsonl": SMS_SPAM for split in ("train", "validation", "test")}


def attribution(spec: str) -> str | None:
    """The credit owed for the shipped file a recipe's data path names (`pkg:toolkit/assets/NAME`, or a path to the
    package's assets folder in a clone), or None for any other data."""
    path = PurePath(str(spec).removeprefix("pkg:"))
    return ATTRIBUTIONS.get(path.name) if path.parent.parts[-2:] == ("toolkit", "assets") else None
