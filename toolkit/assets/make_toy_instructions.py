"""Generate toy_instructions.jsonl: a small Alpaca-style instruction set (instruction / input / output)
written for this project from the templates below with a fixed seed. Short, regular answers that a small
model can learn in minutes on a CPU, so a demo shows SFT working: the answer's form, and stopping.
`python -m toolkit.assets.make_toy_instructions` rewrites the file byte for byte (a test checks this).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
OUT = Path(__file__).with_name("toy_instructions.jsonl")

OPPOSITES = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("light", "dark"),
             ("early", "late"), ("full", "empty"), ("hard", "soft"), ("high", "low"), ("old", "young"),
             ("open", "closed"), ("rich", "poor"), ("strong", "weak"), ("thick", "thin"), ("wet", "dry"),
             ("loud", "quiet"), ("clean", "dirty"), ("long", "short"), ("near", "far"), ("up", "down")]
CAPITALS = [("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
            ("Japan", "Tokyo"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Canada", "Ottawa"),
            ("Peru", "Lima"), ("Norway", "Oslo"), ("Greece", "Athens"), ("Poland", "Warsaw"),
            ("Ireland", "Dublin"), ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Cuba", "Havana"),
            ("Chile", "Santiago"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("India", "New Delhi")]
COLOURS = [("a banana", "yellow"), ("grass", "green"), ("the sky", "blue"), ("snow", "white"),
           ("coal", "black"), ("a tomato", "red"), ("an orange", "orange"), ("a lemon", "yellow"),
           ("chocolate", "brown"), ("a strawberry", "red"), ("milk", "white"), ("a carrot", "orange"),
           ("an emerald", "green"), ("the sea", "blue"), ("a crow", "black"), ("a lime", "green")]
PLURALS = [("cat", "cats"), ("mouse", "mice"), ("child", "children"), ("box", "boxes"), ("city", "cities"),
           ("knife", "knives"), ("tooth", "teeth"), ("foot", "feet"), ("bus", "buses"), ("leaf", "leaves"),
           ("man", "men"), ("woman", "women"), ("baby", "babies"), ("sheep", "sheep"), ("goose", "geese"),
           ("book", "books"), ("dog", "dogs"), ("glass", "glasses"), ("wolf", "wolves"), ("person", "people")]
PAST = [("I walk to school.", "I walked to school."), ("She plays the piano.", "She played the piano."),
        ("We eat dinner at six.", "We ate dinner at six."), ("They go to the park.", "They went to the park."),
        ("He writes a letter.", "He wrote a letter."), ("I see a bird.", "I saw a bird."),
        ("You make tea.", "You made tea."), ("The dog runs fast.", "The dog ran fast."),
        ("She sings a song.", "She sang a song."), ("We build a house.", "We built a house."),
        ("He reads the news.", "He read the news."), ("I buy bread.", "I bought bread."),
        ("They swim in the lake.", "They swam in the lake."), ("The baby sleeps.", "The baby slept."),
        ("She drives to work.", "She drove to work."), ("We watch a film.", "We watched a film.")]


def examples() -> list[dict]:
    rows = []
    for a, b in OPPOSITES:
        rows += [{"instruction": f"What is the opposite of {a}?", "input": "", "output": f"The opposite of {a} is {b}."},
                 {"instruction": f"What is the opposite of {b}?", "input": "", "output": f"The opposite of {b} is {a}."}]
    for country, city in CAPITALS:
        rows.append({"instruction": f"What is the capital of {country}?", "input": "",
                     "output": f"The capital of {country} is {city}."})
    for thing, colour in COLOURS:
        rows.append({"instruction": f"What colour is {thing}?", "input": "",
                     "output": f"{thing[0].upper() + thing[1:]} is {colour}."})
    for word, plural in PLURALS:
        rows.append({"instruction": "Give the plural of the word.", "input": word,
                     "output": f"The plural of {word} is {plural}."})
    for present, past in PAST:
        rows.append({"instruction": "Rewrite the sentence in the past tense.", "input": present, "output": past})
    for a in range(1, 21):
        for b in (a + 3, a + 7):
            larger, smaller = max(a, b), min(a, b)
            rows.append({"instruction": f"Which is larger, {a} or {b}?", "input": "",
                         "output": f"{larger} is larger than {smaller}."})
    random.Random(SEED).shuffle(rows)
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    rows = examples()
    OUT.write_text(render(rows), encoding="utf-8")
    print(f"wrote {len(rows)} examples to {OUT}")
