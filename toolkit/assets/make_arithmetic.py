"""Generate arithmetic_{sft,rl,test}.jsonl: sums of two numbers from 0 to 29 with exact answers, a verifiable
task written for this project with a fixed seed. Each row has the question as `prompt`, the target reply as
`completion` in GSM8K's form (a worked line, then "#### N": "16 + 14 = 30\n#### 30"), and the `answer` a
checker compares against. The three files hold different questions (540 / 225 / 135), so SFT, RL and
evaluation do not overlap. `python -m toolkit.assets.make_arithmetic` rewrites them byte for byte (a test
checks this).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
HERE = Path(__file__).parent
POOLS = ("sft", "rl", "test")
LIMIT = 29
SHARES = {"sft": 0.6, "rl": 0.25}  # the rest is the held-out test pool; SFT needs most to generalise


def problems() -> list[dict]:
    rows = [(a, b) for a in range(LIMIT + 1) for b in range(LIMIT + 1)]
    rng = random.Random(SEED)
    rng.shuffle(rows)
    n = len(rows)
    pools = ["sft"] * int(SHARES["sft"] * n) + ["rl"] * int(SHARES["rl"] * n)
    pools += ["test"] * (n - len(pools))
    return [{"prompt": f"What is {a} + {b}?", "completion": f"\n{a} + {b} = {a + b}\n#### {a + b}", "answer": a + b,
             "pool": pool} for (a, b), pool in zip(rows, pools, strict=True)]


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
