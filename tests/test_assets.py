"""The shipped toy data is exactly what its generator writes (its provenance), and it is balanced."""

from toolkit.assets import make_toy_sms


def test_toy_sms_is_reproducible_from_its_generator():
    rows = make_toy_sms.generate()
    assert make_toy_sms.OUT.read_text(encoding="utf-8") == make_toy_sms.render(rows)
    assert len({row["text"] for row in rows}) == len(rows) == 2 * make_toy_sms.PER_LABEL
    assert sum(row["label"] == "spam" for row in rows) == make_toy_sms.PER_LABEL
