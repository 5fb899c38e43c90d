"""Corpus cleaning removes what it should and keeps what it should, on crafted documents."""

from __future__ import annotations

import toolkit

GOOD = [
    "The river that runs through the old town was once the main road for trade. Boats carried wool, grain "
    "and timber down to the coast, and the merchants who grew rich from that trade built the tall stone "
    "houses that still line the water. Today most of the warehouses have become flats and small shops, but "
    "on a quiet morning you can still see the iron rings where the barges were tied, and the steps that "
    "lead down to the water from every street.",
    "Bread is one of the oldest prepared foods. People in many parts of the world learned to grind grain, "
    "mix it with water and bake the dough on hot stones long before they kept written records. The discovery "
    "that a little old dough, left to stand, would make a new batch rise changed the way bread was made, and "
    "bakers have passed their starters from one generation to the next ever since. A good loaf needs only "
    "flour, water, salt and time.",
    "When the library opened its new reading room, the staff were surprised by how many children came in "
    "after school. They had expected older readers, who wanted a quiet place to work, but the children came "
    "for the comics, the games and the long tables where they could do their homework together. Within a "
    "year the library had started a weekly club for young writers, and the best stories were printed in a "
    "small book that the town sold at its summer fair.",
]
GERMAN = ("Der Fluss, der durch die Altstadt fließt, war einst die wichtigste Straße für den Handel. Boote "
          "brachten Wolle, Getreide und Holz zur Küste, und die Kaufleute, die durch diesen Handel reich wurden, "
          "bauten die hohen Steinhäuser, die noch heute am Wasser stehen. Heute sind die meisten Lagerhäuser "
          "Wohnungen und kleine Läden geworden, aber an einem ruhigen Morgen sieht man noch die eisernen Ringe, "
          "an denen die Kähne festgemacht wurden.")
SHORT = "The meeting is on Monday at the office, and please bring the notes from last week with you."
SYMBOLS = " ".join(f"#{word}" if i % 3 == 0 else word for i, word in enumerate(GOOD[2].split()))
REPEATED = "\n".join(["Go to the shop and buy the best bread in the whole town today."] * 12)


def steps(report) -> dict:
    return {row["step"]: row for row in report["steps"]}


def test_quality_language_and_duplicates_each_remove_their_share():
    exact_copy = "  " + GOOD[0].replace(". ", ".\n") + "  "  # differs only in white space
    near_copy = GOOD[1].replace("oldest", "most ancient")
    docs = GOOD + [SHORT, SYMBOLS, REPEATED, GERMAN, exact_copy, near_copy, ""]
    kept, report = toolkit.prepare_corpus(docs)

    assert kept == GOOD
    by_step = steps(report)
    assert by_step["empty"]["removed"] == 1
    assert by_step["language"]["reasons"] == {"de": 1}
    assert by_step["gopher_quality"]["reasons"] == {"gopher_short_doc": 1, "gopher_too_many_hashes": 1}
    assert by_step["gopher_repetition"]["removed"] == 1 and by_step["fineweb_quality"]["removed"] == 0
    assert by_step["exact_dedup"]["removed"] == 1
    assert by_step["near_dedup"]["removed"] == 1
    assert report["documents_in"] == len(docs) and report["documents_kept"] == 3


def test_each_step_can_be_switched_off():
    docs = GOOD + [GOOD[0], GERMAN]
    kept, report = toolkit.prepare_corpus(docs, quality={}, language=None, exact_dedup=False, near_dedup=False)
    assert kept == docs
    assert [row["step"] for row in report["steps"]] == ["empty"]
    assert [row["step"] for row in toolkit.prepare_corpus(GOOD)[1]["steps"]] == [
        "empty", "language", "gopher_quality", "gopher_repetition", "fineweb_quality", "exact_dedup", "near_dedup"]


def test_unknown_filter_is_a_clear_error():
    import pytest

    with pytest.raises(toolkit.ToolkitError, match="unknown filter 'gopher_qualty'.*did you mean 'gopher_quality'"):
        toolkit.prepare_corpus(GOOD, quality={"gopher_qualty": {}})
