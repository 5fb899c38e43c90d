"""Generate toy_sms.jsonl: a small, synthetic spam / ham SMS set written for this project.

Every message is built from the templates below with a fixed seed, so the file is reproducible:
`python -m toolkit.assets.make_toy_sms` rewrites it byte for byte (a test checks this). No message comes
from a real person. Spam and ham share words on purpose ("free", "call", "win", "text", prices), so a
model must read more than one keyword to get them right.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 0
PER_LABEL = 400
OUT = Path(__file__).with_name("toy_sms.jsonl")

SPAM = [
    "URGENT! You have won a {prize}. Call {phone} now to claim, T&Cs apply.",
    "Congratulations! Your number was selected for a {prize}. Text {code} to {short} to claim.",
    "FREE entry to win a {prize}! Reply {code} to {short} before {day}. Std msg rates.",
    "You are a WINNER of {money}! To receive your reward call {phone} within 24hrs.",
    "Your mobile account is due an upgrade to a {prize} for FREE. Call {phone} today.",
    "Final notice: claim your {money} cash bonus now. Visit {site} or text {code} to {short}.",
    "Hot singles in your area want to chat! Text {code} to {short}, {price}/msg.",
    "Get {money} off your next bill! Limited offer, reply YES to {short}. Opt out: STOP.",
    "Your {service} subscription has been renewed for {price}. To cancel call {phone}.",
    "Dear customer, a {prize} is waiting for you. Collect it at {site} before {day}.",
    "Txt {code} to {short} now & get a {prize} + {money} credit! Cost {price}.",
    "PRIVATE! Your account statement shows {money} in unclaimed prizes. Call {phone}.",
]
HAM = [
    "Are you free {day}? Fancy getting {food} after work?",
    "I'll call you when I get home, running a bit late from {place}.",
    "Did you win the {game} last night? {name} said it was close.",
    "Can you text me {name}'s number? I need to ask about {day}.",
    "Mum says dinner is at {time}, don't forget to bring the {thing}.",
    "Sorry I missed your call, I was at {place}. Call you back in a bit.",
    "Thanks for the {thing}, it was lovely. See you {day}!",
    "The {service} bill came, it's {price} each this month. Can you send me your half?",
    "Meet me at {place} at {time}? I'll be the one with the {thing}.",
    "{name} got the job! We're celebrating with {food} {day}, you coming?",
    "Is the {game} on tonight? Free to watch it at mine if you want.",
    "Just landed, getting a taxi from the airport. Home by {time}.",
]
SLOTS = {
    "prize": ["£1000 prize", "brand new iPhone", "holiday for 2", "£500 gift voucher", "new car", "cash prize"],
    "money": ["£250", "£1,000", "£2000", "$500", "£150", "£750"],
    "phone": ["09061701461", "08712402050", "09050000327", "08002986030", "09066362231"],
    "code": ["WIN", "CLAIM", "PRIZE", "GO", "YES", "FREE"],
    "short": ["87121", "80062", "85023", "69669", "81010"],
    "price": ["£1.50", "£3", "150p", "£4.99", "£25", "£12.40"],
    "site": ["www.prize-claims.co.uk", "www.getreward.net", "claim-now.biz", "www.win4u.com"],
    "service": ["ringtone", "broadband", "phone", "music", "gym", "electricity"],
    "day": ["tonight", "tomorrow", "Saturday", "Friday", "next week", "Sunday"],
    "food": ["pizza", "a curry", "noodles", "a drink", "burgers", "tacos"],
    "place": ["the office", "the gym", "uni", "the station", "Tesco", "the library"],
    "game": ["match", "quiz", "race", "game", "final"],
    "name": ["Sam", "Priya", "Tom", "Aisha", "Ben", "Chloe", "Dan"],
    "time": ["7", "half six", "8pm", "noon", "9ish"],
    "thing": ["cake", "umbrella", "charger", "book", "wine", "red scarf"],
}


def fill(template: str, rng: random.Random) -> str:
    return template.format(**{slot: rng.choice(values) for slot, values in SLOTS.items()})


def generate(seed: int = SEED, per_label: int = PER_LABEL) -> list[dict]:
    """`per_label` distinct messages per label (no message repeats, so no split can leak into another)."""
    rng = random.Random(seed)
    rows = []
    for label, templates in (("spam", SPAM), ("ham", HAM)):
        texts: dict[str, None] = {}
        while len(texts) < per_label:
            texts[fill(rng.choice(templates), rng)] = None
        rows += [{"text": text, "label": label} for text in texts]
    rng.shuffle(rows)
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    OUT.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {OUT}")
