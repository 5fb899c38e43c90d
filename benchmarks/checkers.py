"""The maths reward checkers against the labelled conformance set (tests/data/checker_cases.jsonl).

    python benchmarks/checkers.py

For each class of cases and each checker: the share of cases where its score agrees with the grader's label,
its false credits (1 where the grader says 0: what a policy learns to exploit) and its misses (0 where the
grader says 1). A gold the checker's gold reader refuses is counted apart ("refused"): training refuses such
data before it starts. math-verify (Hugging Face's package, when installed) is the reference column.
With TOOLKIT_REAL_DATA naming a folder holding gsm8k/train.jsonl, also: each checker reads GSM8K's 7,473 golds
(the check run before training) and scores each worked solution as a reply against its own gold.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.math_verify_check import installed  # noqa: E402
from toolkit.rewards import BUILT_IN  # noqa: E402

CASES = [json.loads(line) for line in (ROOT / "tests/data/checker_cases.jsonl").read_text(encoding="utf-8").splitlines()]
CHECKERS = ["math_verify", "gsm8k", "boxed", "exact_match"] if installed() else ["gsm8k", "boxed", "exact_match"]


def scores(name: str) -> dict[str, float | None]:
    """Each case's score; None where the checker's gold reader refuses the gold."""
    function, readable = BUILT_IN[name], []
    for case in CASES:
        try:
            function.gold(case["gold"])
            readable.append(case)
        except ValueError:
            pass
    got = function(None, [c["reply"] for c in readable], [c["gold"] for c in readable]) if readable else []
    found = {c["id"]: s for c, s in zip(readable, got, strict=True)}
    return {c["id"]: found.get(c["id"]) for c in CASES}


def cell(cases: list[dict], score: dict) -> str:
    scored = [c for c in cases if score[c["id"]] is not None]
    if not scored:
        return "refused"
    agree = sum(score[c["id"]] == c["expected"] for c in scored)
    false = sum(score[c["id"]] == 1.0 and c["expected"] == 0 for c in scored)
    missed = sum(score[c["id"]] == 0.0 and c["expected"] == 1 for c in scored)
    refused = len(cases) - len(scored)
    return f"{agree / len(scored):.2f} ({false} / {missed})" + (f", {refused} refused" if refused else "")


def table() -> None:
    results = {name: scores(name) for name in CHECKERS}
    classes = list(dict.fromkeys(c["class"] for c in CASES))
    print(f"{len(CASES)} cases; each cell: share agreeing with the label (false credits / misses)\n")
    print("| class | cases | labelled 1 | " + " | ".join(CHECKERS) + " |")
    print("| --- " * (3 + len(CHECKERS)) + "|")
    for name in classes + ["all"]:
        cases = CASES if name == "all" else [c for c in CASES if c["class"] == name]
        row = [f"**{name}**" if name == "all" else name, str(len(cases)), str(sum(c["expected"] for c in cases))]
        print("| " + " | ".join(row + [cell(cases, results[n]) for n in CHECKERS]) + " |")


def real_gsm8k(folder: Path) -> None:
    rows = [json.loads(line) for line in (folder / "gsm8k/train.jsonl").read_text(encoding="utf-8").splitlines()]
    golds = [row["answer"] for row in rows]
    print(f"\nGSM8K train as published ({len(rows):,} rows, `answer` = worked solution ending '#### N'):\n")
    print("| checker | golds read | seconds to read them | solutions credited against their own gold |")
    print("| --- | --- | --- | --- |")
    for name in CHECKERS:
        function = BUILT_IN[name]
        started, readable = time.perf_counter(), []
        for gold in golds:
            try:
                function.gold(gold)
                readable.append(gold)
            except ValueError:
                pass
        seconds = time.perf_counter() - started
        credited = sum(function(None, readable, readable)) if readable else 0
        print(f"| {name} | {len(readable):,} | {seconds:.3f} | {int(credited):,} of {len(readable):,} |")


if __name__ == "__main__":
    table()
    if os.environ.get("TOOLKIT_REAL_DATA") and (Path(os.environ["TOOLKIT_REAL_DATA"]) / "gsm8k").is_dir():
        real_gsm8k(Path(os.environ["TOOLKIT_REAL_DATA"]))
