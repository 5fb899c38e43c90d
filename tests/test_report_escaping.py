"""Text from the data is shown, never run: the model card (README.md) and report.md escape it as report.html does,
so a `<script>` in a prompt or reference reaches the page as text."""

from __future__ import annotations

import json

import toolkit
from conftest import TINY_GPT2, write_jsonl

SCRIPT = "<script>alert('x')</script>"


def test_data_in_the_model_card_and_report_is_escaped(tmp_path):
    rows = [{"instruction": f"Say hello {i} {SCRIPT}", "output": f"Hello {i} | **{SCRIPT}** `tick`"}
            for i in range(24)]
    recipe = {"task": "sft", "model": TINY_GPT2, "eval": {"generations": 4, "splits": ["validation"]},
              "data": {"train": str(write_jsonl(tmp_path / "train.jsonl", rows)), "max_length": 48,
                       "validation": str(write_jsonl(tmp_path / "validation.jsonl", rows[:4]))},
              "training": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "disable_tqdm": True}}
    folder = toolkit.train(recipe).output_dir
    assert SCRIPT in (folder / "generations.jsonl").read_text(encoding="utf-8")  # the data itself is kept as it is
    for name in ("README.md", "report.md"):
        text = (folder / name).read_text(encoding="utf-8")
        assert "<script" not in text.lower(), name
        assert "&lt;script&gt;" in text, name  # shown, as text
        answers = [line for line in text.splitlines() if "Say hello 0" in line]
        assert answers and all(line.count(" | ") == 3 for line in answers)  # the data's | leaves the table whole
    assert "<script" not in (folder / "report.html").read_text(encoding="utf-8")
    assert json.loads((folder / "metrics.json").read_text())["generations"]["prompts"] == 4


def test_code_in_markdown_is_a_backtick_span_only_where_one_holds_it_whole():
    from toolkit.report_pages import Code, Page, Paragraph, Section, Table, html_page, markdown_page

    page = Page("a_run", [], [Section("Data", [Paragraph(["train: ", Code("data/train.jsonl")]),
                                               Table(["id", "split"], [[Code(f"x`y|{SCRIPT}"), Code(" edge ")]])])])
    markdown = markdown_page(page)
    assert "train: `data/train.jsonl`" in markdown
    # A backtick, a cell's | and HTML cannot sit in a backtick span: <code> around the escaped text instead.
    assert "| <code>x\\`y\\|&lt;script&gt;alert('x')&lt;/script&gt;</code> | <code> edge </code> |" in markdown
    assert "<script" not in markdown and markdown.startswith("# a\\_run\n")
    assert "<td><code>x`y|&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</code></td>" in html_page(page)
