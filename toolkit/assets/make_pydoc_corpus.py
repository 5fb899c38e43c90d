"""Generate pydoc_corpus.jsonl: a small English pretraining corpus from the reference topics that ship with
Python (`pydoc_data.topics`, the text `help()` shows; Python Software Foundation License).

Each topic is cut at blank lines into documents of at most ~250 words. Code listings and tables stay in,
so the cleaning step has something to remove. `python -m toolkit.assets.make_pydoc_corpus` rewrites the
file from the running Python's own copy.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("pydoc_corpus.jsonl")
MAX_WORDS = 250


def documents() -> list[dict]:
    from pydoc_data.topics import topics

    rows = []
    for name in sorted(topics):
        paragraphs = [p.strip() for p in topics[name].split("\n\n") if p.strip()]
        current: list[str] = []
        for paragraph in paragraphs:
            if current and sum(len(p.split()) for p in current) + len(paragraph.split()) > MAX_WORDS:
                rows.append({"topic": name, "text": "\n\n".join(current)})
                current = []
            current.append(paragraph)
        if current:
            rows.append({"topic": name, "text": "\n\n".join(current)})
    return rows


if __name__ == "__main__":
    rows = documents()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} documents to {OUT}")
