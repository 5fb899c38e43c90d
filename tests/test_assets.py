"""The shipped toy data is exactly what its generator writes (its provenance), and it is balanced."""

from toolkit.assets import make_toy_sms


def test_toy_sms_is_reproducible_from_its_generator():
    rows = make_toy_sms.generate()
    assert make_toy_sms.OUT.read_text(encoding="utf-8") == make_toy_sms.render(rows)
    assert len({row["text"] for row in rows}) == len(rows) == 2 * make_toy_sms.PER_LABEL
    assert sum(row["label"] == "spam" for row in rows) == make_toy_sms.PER_LABEL


def test_toy_instructions_and_preferences_are_reproducible():
    from toolkit.assets import make_toy_instructions, make_toy_preferences

    assert make_toy_instructions.OUT.read_text(encoding="utf-8") == make_toy_instructions.render(
        make_toy_instructions.examples())
    pairs = make_toy_preferences.pairs()
    assert make_toy_preferences.OUT.read_text(encoding="utf-8") == make_toy_preferences.render(pairs)
    assert all(row["chosen"] != row["rejected"] for row in pairs)


def test_arithmetic_pools_are_reproducible_and_disjoint():
    from toolkit.assets import make_arithmetic

    questions = []
    for path, text in make_arithmetic.rendered().items():
        assert path.read_text(encoding="utf-8") == text
        questions.append({line.split('"prompt": ')[1].split('"')[1] for line in text.splitlines()})
    sft, rl, test = questions
    assert not (sft & rl or sft & test or rl & test)


def test_reversal_pools_are_reproducible_and_disjoint():
    import json

    from toolkit.assets import make_reversal

    pools = []
    for path, text in make_reversal.rendered().items():
        assert path.read_text(encoding="utf-8") == text
        rows = [json.loads(line) for line in text.splitlines()]
        assert all(r["answer"] == " ".join(reversed(r["prompt"].split(": ")[1].split())) for r in rows)
        pools.append({r["prompt"] for r in rows})
    assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])
