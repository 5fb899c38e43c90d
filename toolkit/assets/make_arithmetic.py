"""Generate arithmetic_{sft,rl,test}.jsonl: small addition and subtraction problems with exact answers, a
verifiable task written for this project with a fixed seed. Each row has the question as `prompt` and as
an Alpaca-style `instruction` with the target reply `output` ("The answer is N."), and the `answer` a
checker compares against. The three files hold different problems, so SFT, RL and evaluation do not
overlap. `python -m toolkit.assets.make_arithmetic` rewrites them byte for byte (a test checks this).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
HERE = Path(__file__).parent
POOLS = ("sft", "rl", "test")
LIMIT = 12


def problems() -> list[dict]:
    rows = []
    for a in range(LIMIT + 1):
        for b in range(LIMIT + 1):
            rows.append((f"What is {a} + {b}?", a + b))
            if a >= b:
                rows.append((f"What is {a} - {b}?", a - b))
    rng = random.Random(SEED)
    rng.shuffle(rows)
    n = len(rows)
    pools = ["sft"] * int(0.4 * n) + ["rl"] * int(0.4 * n)
    pools += ["test"] * (n - len(pools))
    return [{"prompt": q, "instruction": q, "input": "", "output": f"The answer is {answer}.", "answer": answer,
             "pool": pool} for (q, answer), pool in zip(rows, pools, strict=True)]


def rendered() -> dict[Path, str]:
    """File -> its text, one file per pool."""
    rows = problems()
    return {HERE / f"arithmetic_{pool}.jsonl": "".join(json.dumps({k: v for k, v in row.items() if k != "pool"})
                                                       + "\n" for row in rows if row["pool"] == pool)
            for pool in POOLS}


if __name__ == "__main__":
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10))} problems to {path}")
