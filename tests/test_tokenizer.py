"""A byte-level BPE trained in-process round-trips any text and carries the tokens later stages need."""

from transformers import AutoTokenizer

import toolkit
from toolkit.chat import IM_END, IM_START
from conftest import toy_rows


def test_trained_tokenizer_round_trips_and_saves(tmp_path):
    tokenizer = toolkit.train_bpe([row["text"] for row in toy_rows()], vocab_size=600)
    assert len(tokenizer) <= 600
    for text in ["Are you free tonight?", "Ünïcödé — 数学 🙂 tabs\tand\nnewlines", "  leading spaces", ""]:
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert tokenizer.pad_token != tokenizer.eos_token
    assert {IM_START, IM_END} <= set(tokenizer.get_vocab()) and tokenizer.mask_token is not None

    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "Call 08712402050 now to claim your prize!"
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert again.pad_token_id == tokenizer.pad_token_id
