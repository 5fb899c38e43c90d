"""Generate toy_preferences.jsonl: preference pairs in the usual JSON form (instruction, input, chosen,
rejected), written for this project from toy_instructions.jsonl with a fixed seed.

The chosen reply is the instruction's right answer. The rejected one is a reply people mark down: a refusal,
shouting, a stutter, or the answer to a different question. The first three a small reward model learns to
spot at once; the last needs it to read the question. `python -m toolkit.assets.make_toy_preferences`
rewrites the file byte for byte (a test checks this).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
HERE = Path(__file__).parent
OUT = HERE / "toy_preferences.jsonl"
PAIRS_PER_INSTRUCTION = 2


def rejected_reply(answer: str, other: str, rng: random.Random) -> str:
    kind = rng.choice(["refusal", "shouting", "stutter", "off-topic"])
    if kind == "refusal":
        return rng.choice(["I don't know.", "I cannot answer that.", "Ask someone else.", "No idea, sorry."])
    if kind == "shouting":
        return answer.upper().rstrip(".") + "!!!"
    if kind == "stutter":
        first = answer.split()[0]
        return " ".join([first] * rng.randint(4, 8)) + "."
    return other


def pairs() -> list[dict]:
    rng = random.Random(SEED)
    instructions = [json.loads(line) for line in (HERE / "toy_instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = []
    for row in instructions:
        for _ in range(PAIRS_PER_INSTRUCTION):
            other = rng.choice([r["output"] for r in instructions if r["output"] != row["output"]])
            rows.append({"instruction": row["instruction"], "input": row["input"], "chosen": row["output"],
                         "rejected": rejected_reply(row["output"], other, rng)})
    rng.shuffle(rows)
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    OUT.write_text(render(pairs()), encoding="utf-8")
    print(f"wrote {OUT}")
