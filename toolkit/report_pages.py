"""A report page as data, and its two writings. A page is a title, a lead and titled sections of blocks
(paragraphs, tables, bullet lists, figures, code); toolkit.report builds it once from a run, and the same page is
written as Markdown (report.md, the model card's body) and as HTML (report.html, images inline so the file
stands alone): the two cannot show different sections.

Text in a page is raw, whatever it came from (the data, a model, a recipe); each writer escapes it on the way
out, so neither page runs what a prompt or an answer holds."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Code:
    """Inline: a name, path, value or call, shown as code. Inline text is a str, a Code, or a list of them."""

    text: str


@dataclass
class Paragraph:
    text: object  # inline text
    strong: bool = False  # a warning the reader must not miss


@dataclass
class Table:
    header: list[str]
    rows: list  # rows of inline text, or of numbers


@dataclass
class Bullets:
    items: list  # inline text


@dataclass
class Figures:
    paths: list[Path]  # PNG files beside the page


@dataclass
class CodeBlock:
    text: str
    language: str = ""


@dataclass
class Section:
    title: str
    blocks: list


@dataclass
class Page:
    title: str
    lead: list  # blocks under the title, before the first section
    sections: list[Section] = field(default_factory=list)


# Markdown

MARKDOWN_MARKS = set("\\`*_[]|#~")  # characters markdown acts on inside a line


def markdown_text(text) -> str:
    """Text from the data or a model as markdown shows it and never runs it: on one line, markdown's marks escaped
    with a backslash, and HTML's <, > and & as entities (a `<script>` in a prompt is shown, as report.html shows it).
    The Hub and most viewers render raw HTML in a model card."""
    marked = "".join("\\" + c if c in MARKDOWN_MARKS else c for c in " ".join(str(text).splitlines()))
    return html.escape(marked, quote=False)


PLAIN_CODE = re.compile(r"[^`|<>&\r\n]+")


def markdown_code(text: str) -> str:
    """`text` where a backtick span carries it whole; otherwise <code> around the escaped text. A span cannot hold
    a backtick, a | (a table cell's border even inside a span), HTML's <, > and & (kept out of the file, as
    markdown_text keeps them), a line break, or spaces at its edges (markdown trims them)."""
    if PLAIN_CODE.fullmatch(text) and text == text.strip():
        return f"`{text}`"
    return f"<code>{markdown_text(text)}</code>"


def markdown_inline(text) -> str:
    if isinstance(text, Code):
        return markdown_code(text.text)
    if isinstance(text, list):
        return "".join(markdown_inline(part) for part in text)
    return markdown_text(text)


def fenced(text: str, info: str = "") -> list[str]:
    """A fenced code block that the text itself cannot close: a fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def markdown_table(header: list[str], rows: list) -> list[str]:
    lines = ["| " + " | ".join(markdown_text(h) for h in header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(markdown_inline(cell) for cell in row) + " |" for row in rows]


def markdown_block(block) -> list[str]:
    match block:
        case Paragraph(text, strong):
            return [f"**{markdown_inline(text)}**" if strong else markdown_inline(text)]
        case Table(header, rows):
            return markdown_table(header, rows)
        case Bullets(items):
            return [f"- {markdown_inline(item)}" for item in items]
        case Figures(paths):  # one paragraph: the plots sit side by side where the viewer has room
            return [f"![{markdown_text(path.stem)}]({path.name})" for path in paths]
        case CodeBlock(text, language):
            return fenced(text, language)
    raise TypeError(f"not a page block: {block!r}")


def markdown_blocks(blocks: list) -> list[str]:
    return [line for block in blocks for line in ["", *markdown_block(block)]]


def markdown_page(page: Page) -> str:
    lines = [f"# {markdown_text(page.title)}", *markdown_blocks(page.lead)]
    for section in page.sections:
        lines += ["", f"## {markdown_text(section.title)}", *markdown_blocks(section.blocks)]
    return "\n".join(lines) + "\n"


# HTML

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}figure{display:inline-block;margin:.5em}img{max-width:520px;border:1px solid #ddd}
pre{background:#f7f7f7;padding:1em;overflow:auto}code{overflow-wrap:anywhere}
.columns{display:flex;gap:1em}.columns>div{flex:1;min-width:0}"""


def html_inline(text) -> str:
    if isinstance(text, Code):
        return f"<code>{html.escape(text.text)}</code>"
    if isinstance(text, list):
        return "".join(html_inline(part) for part in text)
    return html.escape(str(text))


def html_table(header: list[str], rows: list) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html_inline(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def inline_image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">' \
           f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"


def html_block(block) -> str:
    match block:
        case Paragraph(text, strong):
            return f"<p><strong>{html_inline(text)}</strong></p>" if strong else f"<p>{html_inline(text)}</p>"
        case Table(header, rows):
            return html_table(header, rows)
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{html_inline(item)}</li>" for item in items) + "</ul>"
        case Figures(paths):
            return "<div>" + "".join(inline_image(path) for path in paths) + "</div>"
        case CodeBlock(text, _):
            return f"<pre>{html.escape(text)}</pre>"
    raise TypeError(f"not a page block: {block!r}")


def html_page(page: Page) -> str:
    parts = [f"<h1>{html.escape(page.title)}</h1>", *map(html_block, page.lead)]
    for section in page.sections:
        parts += [f"<h2>{html.escape(section.title)}</h2>", *map(html_block, section.blocks)]
    return document(page.title, "\n".join(parts))


def document(title: str, content: str) -> str:
    """A whole HTML file around a page's content, styled in place so it needs nothing beside it."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{content}\n</body></html>\n")
