"""Reading a maths answer out of a reply, and out of a gold value, for the `gsm8k` and `boxed` reward checkers.

A reward that credits a hedge ("16, 17 or 18"), a list ("3 4 5 ... 18") or a rejection ("not 18") teaches a
policy to write them, so the readers here return None (no answer) whenever the reply does not state one value
as its answer: a missed answer costs a reward, a false credit trains the wrong behaviour.
"""

from __future__ import annotations

import re
from fractions import Fraction

# A number as written in prose: thousands groups of three ("27,200", never "1,5"), an optional decimal part,
# and a minus sign only where it cannot be a hyphen or an operator ("3-4" is two numbers, not 3 and -4).
NUMBER = re.compile(r"(?:(?<![\w)}])-)?(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?![\d,]\d)|\d+)(?:\.\d+)?(?![\d])")
FRACTION = re.compile(r"(-?)\\frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}")
SLASH = re.compile(r"(-?\d+)\s*/\s*(\d+)")
# Words that make a statement something other than one final answer: hedges, ranges, alternatives, negations.
HEDGE = re.compile(r"\b(?:or|maybe|perhaps|probably|possibly|approximately|approx|roughly|about|around|nearly|"
                   r"almost|between|either|guess|unsure|sure|not|no|never|wrong|incorrect|isn't|wasn't|can't|"
                   r"cannot)\b|n't\b|\?|~|≈", re.IGNORECASE)
# Words after an answer that take it back: "Wait, no: it is 18.", "Or maybe 19."
RETRACTION = re.compile(r"\b(?:wait|no|actually|sorry|correction|instead|rather|mistake|wrong|hmm|or|maybe|"
                        r"perhaps|unsure|alternatively|recalculat\w*|redo)\b|not sure", re.IGNORECASE)
ANSWER_PHRASE = re.compile(r"\banswer\s*(?:is|was|would be|will be|should be|equals|[:=])\s*[:=]?", re.IGNORECASE)
CONCLUSION = re.compile(r"^\s*(?:so|thus|therefore|hence|finally|overall|altogether|in total|in all)\b",
                        re.IGNORECASE)
# Unit words allowed after a number ("72 dollars", "5 cm"): letters only, and none of the hedge words.
UNITS = re.compile(r"[A-Za-z][A-Za-z .'/]*")


def text_of(completion) -> str:
    """A completion's text: a string, or (chat models) a list of turns whose first content is the reply."""
    return completion if isinstance(completion, str) else completion[0]["content"]


def boxed_spans(text: str) -> list[tuple[str, int]]:
    """(contents, end) of every \\boxed{...} (or \\fbox{...}) in the text, braces nested inside kept whole."""
    found = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append((text[start:i], i + 1))
                break
    return found


def boxed_contents(text: str) -> list[str]:
    return [contents for contents, _ in boxed_spans(text)]


def unwrap(text: str) -> str:
    """LaTeX and markdown wrapping taken off an answer: $, \\$, %, **, \\text{...}, \\left, spacing commands."""
    text = text.replace("−", "-").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = re.sub(r"\\(?:text|textbf|mathrm|mbox|mathbf)\s*\{([^{}]*)\}", r" \1 ", text)
    text = re.sub(r"\\(?:left|right|displaystyle)\b|\\[,;!: ]|\\\(|\\\)|\\\[|\\\]|\*\*|__|`", " ", text)
    text = re.sub(r"\\?\$|\\?%|\bpercent\b|\^\s*\{?\\circ\}?|°", " ", text)
    return " ".join(text.split())


def to_number(text: str) -> Fraction | None:
    """The value of an answer that is one number: "72", "$1,080.00", "-7", "25%", "\\frac{1}{2}", "3/4",
    "x = 5", "72 dollars"; None for anything else (two numbers, a hedge word, an expression)."""
    text = unwrap(text).rstrip(".").strip()
    text = re.sub(r"^[A-Za-z]\s*=\s*", "", text)  # "x = 5"
    while re.fullmatch(r"\{[^{}]*\}", text):  # "{12}"
        text = text[1:-1].strip()
    if match := FRACTION.fullmatch(text.replace(" ", "")):
        sign = -1 if match.group(1) else 1
        return sign * Fraction(int(match.group(2)), int(match.group(3))) if int(match.group(3)) else None
    if match := SLASH.fullmatch(text):
        return Fraction(int(match.group(1)), int(match.group(2))) if int(match.group(2)) else None
    match = NUMBER.match(text)
    if not match or match.start() != 0:
        return None
    rest = text[match.end():].strip()
    if rest and (not UNITS.fullmatch(rest) or HEDGE.search(rest)):
        return None
    return Fraction(match.group().replace(",", ""))


def normalise(text: str) -> str:
    """A non-numeric answer for comparison as text: unwrapped, spaces and case folded, \\dfrac as \\frac."""
    return unwrap(text).rstrip(".").replace(" ", "").lower()


def gold_text(gold) -> str:
    """The answer part of a gold value: after the last `####` (GSM8K's worked solutions), else the last
    \\boxed{} (MATH's solutions), else the value as given. Raises ValueError for an empty or missing gold."""
    if gold is None or (isinstance(gold, float) and gold != gold):
        raise ValueError("the gold answer is missing")
    text = str(gold)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    elif boxes := boxed_contents(text):
        text = boxes[-1]
    if not text.strip():
        raise ValueError("the gold answer is empty")
    return text.strip()


def gold_number(gold) -> Fraction:
    """A gold answer as a number (for `gsm8k`); ValueError when it is not one."""
    text = gold_text(gold)
    value = to_number(text)
    if value is None:
        raise ValueError("it is not a number")
    if re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", unwrap(text))):  # "72 dollars" in a reply; "1O" in a gold is a typo
        raise ValueError("it holds letters besides the number")
    return value


def gold_answer(gold) -> Fraction | str:
    """A gold answer as a number when it reads as one, else as normalised text (for `boxed`)."""
    text = gold_text(gold)
    value = to_number(text)
    return value if value is not None else normalise(text)


def sentences(text: str) -> list[str]:
    """Sentences and lines, split at newlines and at ". ", "! ", "? " (so "72.50" stays whole)."""
    return [s.strip() for s in re.split(r"\n|(?<=[.!?])\s+", text) if s.strip()]


def retracted(after: str) -> bool:
    """Text after an answer that takes it back: another number together with a retraction word."""
    return bool(NUMBER.search(after)) and bool(RETRACTION.search(after))


def leading_number(text: str) -> tuple[str, str] | None:
    """(the answer, the rest of its sentence) when `text` opens with one number, a LaTeX fraction or an
    a/b fraction, after only filler ($, **, :, =, \\boxed{); None when anything else comes first."""
    text = unwrap(text.replace("\\boxed{", "").replace("\\fbox{", ""))
    text = re.sub(r"^[\s:=*{]+", "", text)
    for pattern in (FRACTION, SLASH, NUMBER):
        match = pattern.match(text)
        if match:
            rest = re.split(r"\n|(?<=[.!?])\s+", text[match.end():], maxsplit=1)[0]
            return match.group(), rest
    return None


def one_answer(text: str) -> str | None:
    """The answer opening `text` (the words after "####" or "The answer is"), or None when it is hedged:
    followed by another number in a list or range ("16, 17 or 18", "18-20"), an operator, or a hedge word."""
    if "=" in text.split("\n")[0] and not re.match(r"^\s*=", text):
        text = text.split("\n")[0].rsplit("=", 1)[1]  # "48 + 24 = 72": the value after the last "="
    found = leading_number(text)
    if found is None:
        return None
    answer, rest = found
    if re.match(r"\s*(?:[,;/+*×÷^<>-]|–|—|\.\.\.|…)?\s*(?:or|and|to|through)?\s*[-$]?\s*\d", rest) or \
            re.match(r"\s*[+*×÷^/<>=]", rest):
        return None
    if re.search(r"\b(?:or|maybe|perhaps|probably|possibly|approximately|roughly|unsure|guess)\b|\?|not sure",
                 rest, re.IGNORECASE):
        return None
    return answer


def gsm8k_answer(reply: str) -> str | None:
    """The answer a GSM8K reply states: after its last `####`, else in its \\boxed{}, else after its last
    "answer is" / "answer:", else a concluding last sentence ("So she sold 72 clips.") holding one number.
    None when the reply hedges, lists several values, negates, or takes its answer back."""
    if "####" in reply:
        after = reply.rsplit("####", 1)[1]
        answer = one_answer(after)
        tail = after.split("\n", 1)[1] if "\n" in after else ""
        return None if answer is None or retracted(tail) else answer
    if "\\boxed" in reply or "\\fbox" in reply:
        answer = boxed_answer(reply)
        return answer if answer is not None and to_number(answer) is not None else None
    phrases = list(ANSWER_PHRASE.finditer(reply))
    if phrases:
        after = reply[phrases[-1].end():]
        answer = one_answer(after)
        if answer is None:
            return None
        sentence_end = re.search(r"\n|(?<=[.!?])\s+", after)
        return None if sentence_end and retracted(after[sentence_end.end():]) else answer
    return concluding_number(reply)


def concluding_number(reply: str) -> str | None:
    """The answer of a reply with no marker: the whole reply when it is one number ("72", "$72.", "72 clips"),
    else the one number of its last sentence when that sentence opens as a conclusion ("So", "Therefore",
    "In total", ...) and neither hedges nor negates. "She has 72 clips." alone is not read: a reply that
    restates the question ("... after 2 months.") reads the same."""
    if to_number(reply) is not None:
        return reply.strip()
    parts = sentences(reply)
    if not parts or HEDGE.search(parts[-1]) or not CONCLUSION.search(parts[-1]):
        return None
    value_part = unwrap(parts[-1].rsplit("=", 1)[1] if "=" in parts[-1] else parts[-1])
    # Every run of digits, commas and points, so "1,5" counts as a list and not as the number 1.
    runs = re.findall(r"-?\d[\d,]*(?:\.\d+)?", value_part)
    if len(runs) != 1 or not NUMBER.fullmatch(runs[0].rstrip(",")) or FRACTION.search(value_part):
        return None
    return runs[0].rstrip(",")


def boxed_answer(reply: str) -> str | None:
    """The last \\boxed{} of a reply; None when there is none, it is empty, an earlier box holds another value
    (a reply that boxes two answers has not chosen one), or the text after it takes it back."""
    spans = boxed_spans(reply)
    boxes = [box.strip() for box, _ in spans]
    if not boxes or not boxes[-1] or retracted(reply[spans[-1][1]:]):
        return None
    final = comparable(boxes[-1])
    if any(comparable(box) != final for box in boxes[:-1]):
        return None
    return boxes[-1]


def comparable(answer: str) -> Fraction | str:
    value = to_number(answer)
    return value if value is not None else normalise(answer)
