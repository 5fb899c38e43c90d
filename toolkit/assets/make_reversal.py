"""Generate reversal_{sft,rl,test}.jsonl: "Reverse the digits: 6 0 4 8" -> "8 4 0 6", a verifiable task
written for this project with a fixed seed (3-4 random digits, no sequence twice). 1000 SFT sequences: with
200 a small model memorises them instead of learning to reverse (held-out exact match near 0). The SFT recipe
stops part-way, which leaves RL with a checker (exact_text against `answer`) room to improve on the 300
questions of its own pool; 100 more are held out. The three files hold different sequences.
`python -m toolkit.assets.make_reversal` rewrites them byte for byte (a test checks this).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
HERE = Path(__file__).parent
SIZES = {"sft": 1000, "rl": 300, "test": 100}


def rendered() -> dict[Path, str]:
    rng = random.Random(SEED)
    seen, rows = set(), []
    while len(rows) < sum(SIZES.values()):
        digits = [str(rng.randint(0, 9)) for _ in range(rng.randint(3, 4))]
        if "".join(digits) in seen:
            continue
        seen.add("".join(digits))
        prompt, answer = f"Reverse the digits: {' '.join(digits)}", " ".join(reversed(digits))
        rows.append({"prompt": prompt, "answer": answer, "instruction": prompt, "input": "", "output": answer})
    files, start = {}, 0
    for pool, size in SIZES.items():
        files[HERE / f"reversal_{pool}.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows[start:start + size])
        start += size
    return files


if __name__ == "__main__":
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10))} rows to {path}")
