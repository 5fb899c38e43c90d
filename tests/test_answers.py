"""The scores of generated answers, on cases whose values are known by hand."""

from __future__ import annotations

import pytest

from toolkit.metrics.answers import distinct, longest_repeat, means, prompt_of, rouge_l, scored, token_f1


def test_reference_scores_follow_squad_and_rouge_l():
    assert token_f1("The cat sat.", "a cat sat") == 1.0  # articles and punctuation do not count
    assert token_f1("cat sat on mat", "cat sat") == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert token_f1("dog", "cat") == 0.0
    assert rouge_l("the cat is on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)
    answer = scored({"text": "Paris.", "length": 3, "stopped": True}, "paris")
    assert answer["exact_match"] is True and answer["f1"] == 1.0 and answer["stopped"] is True


def test_repetition_measures_catch_a_degenerate_answer():
    words = "the the the the the".split()
    assert distinct(words, 1) == pytest.approx(1 / 5) and longest_repeat(words) == 4
    fine = "a short answer with no repeats".split()
    assert distinct(fine, 2) == 1.0 and longest_repeat(fine) == 0
    assert longest_repeat("go to the shop and go to the park".split()) == 3


def test_means_count_reference_scores_over_rows_with_a_reference():
    rows = [{"before": {"length": 2, "f1": 1.0}}, {"before": {"length": 4}}]
    assert means(rows, "before") == {"length": 3.0, "f1": 1.0}


def test_prompts_and_references_come_from_each_data_shape():
    chat = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}
    assert (prompt_of(chat).shown, prompt_of(chat).reference) == ("Hi?", "Hello.")
    assert prompt_of({"prompt": "2+2=", "completion": "4"}).reference == "4"
    pair = {"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "A"}],
            "rejected": [{"role": "assistant", "content": "B"}]}
    assert (prompt_of(pair).shown, prompt_of(pair).reference) == ("Q", "A")
    assert prompt_of({"prompt": "Q", "completion": "bad", "label": False}).reference is None  # KTO undesirable
    assert prompt_of({"prompt": "Reverse 12", "answer": "21"}).reference == "21"  # RL with a checker's answer
