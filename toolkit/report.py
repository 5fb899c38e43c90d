"""What a person reads after a run, built from the files the run wrote: a model card (README.md, in the
Hugging Face model-card form), and one page with the metrics, plots, samples, recipe and lineage
(report.md, and report.html with the plots inline so the file stands alone). `compare_runs` puts two runs
side by side. Everything here reads the run folder, so `toolkit report` rebuilds it at any time."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import yaml

from toolkit.files import write_atomic
from toolkit.run_folder import GENERATIONS, MODEL_CARD, REPORT_HTML, REPORT_MD, Run, read_run

def task_of(run: Run):
    """The run's task's facts (method, Auto class, pipeline tag: toolkit.tasks.TaskFacts), or None for a task this
    version does not know."""
    from toolkit.tasks import TASKS, get_task

    return get_task(run.task, str(run.folder)).FACTS if run.task in TASKS else None


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """{'test': {'accuracy': 0.9}} -> {'test.accuracy': 0.9}; numbers only (matrices stay in metrics.json)."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
    return flat


def number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def headline(run: Run) -> list[tuple[str, str, str]]:
    """(split, metric, 'before -> after' or value) for the held-out results, the table a reader wants first."""
    before = run.metrics.get("before", {})
    rows = []
    for split, values in run.metrics.items():
        if split in ("before", "generations", "held_out_loss_rose") or not isinstance(values, dict):
            continue
        for metric, value in flatten(values).items():
            was = flatten(before.get(split, {})).get(metric)
            shown = f"{number(was)} → {number(value)}" if was is not None else number(value)
            rows.append((split, metric, shown))
    return rows


def divergence_warnings(run: Run) -> list[str]:
    """A line for each held-out split whose loss ended many times its value before training (toolkit.run)."""
    return [f"Warning: the held-out loss rose {values['times']:g} times during training ({split}: {number(values['before'])} "
            f"→ {number(values['after'])}): the run diverged." for split, values in
            (run.metrics.get("held_out_loss_rose") or {}).items()]


def model_source(run: Run) -> str:
    model = run.recipe.get("model", {})
    return model.get("name_or_path") or f"new {model.get('architecture')} from a config"


def is_hub_id(name: str | None) -> bool:
    return bool(name) and not Path(name).exists() and not name.startswith(("pkg:", "/", ".", "runs/")) \
        and name.count("/") <= 1


def card_metadata(run: Run) -> str:
    from huggingface_hub import ModelCardData

    model, data = run.recipe.get("model", {}), run.recipe.get("data", {})
    task = task_of(run)
    base = model.get("name_or_path")
    card = ModelCardData(library_name="transformers", base_model=base if is_hub_id(base) else None,
                         datasets=hub_datasets(data) or None,
                         pipeline_tag=task.pipeline_tag if task else None,
                         tags=["toolkit", run.task] + (["trl"] if task and task.uses_trl else []))
    return card.to_yaml()


def hub_datasets(data: dict) -> list[str]:
    """The hub datasets a run read (data.name, and hub ids in data.mixture), for the card's metadata."""
    mixed = [source.get("id") for source in (data.get("mixture") or {}).get("datasets") or []]
    return [name for name in [data.get("name"), *mixed] if is_hub_id(name)]


def table(header: list[str], rows: list) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def data_lines(run: Run) -> list[str]:
    data = run.lineage.get("data") or {k: v for k, v in run.recipe.get("data", {}).items()
                                       if k in ("train", "validation", "test", "name") and v}
    lines = [f"- {split}: `{source}`" for split, source in data.items() if split != "mixture"]
    if data.get("mixture"):
        mixture = data["mixture"]
        lines += [f"- train: a mixture of {len(mixture['datasets'])} datasets, {mixture['train_rows']} rows, "
                  f"drawn with seed {mixture['seed']}:", ""]
        lines += table(["dataset", "split", "rows", "weight", "rows taken"],
                       [[f"`{row['id']}`", row["split"], row["rows"], f"{row['weight']:g}", row["taken"]]
                        for row in mixture["datasets"]])
    return lines or ["- (not recorded)"]


def lineage_lines(run: Run) -> list[str]:
    lines, node = [], run.lineage
    while node:
        lines.append(f"- `{node.get('output_dir')}` ← {node.get('task')} on `{node.get('model')}`")
        node = node.get("parent")
    return lines


GENERATION_SCORES = {"exact_match": "exact match", "f1": "token F1", "rouge_l": "ROUGE-L",
                     "length": "length (tokens)", "stopped": "stopped at end of turn", "distinct_1": "distinct-1",
                     "distinct_2": "distinct-2", "longest_repeat": "longest repeated n-gram (words)",
                     "judge": "judge's score"}


def generation_tables(run: Run, examples: int = 3) -> tuple[list[str], list, list[str], list]:
    """(header, rows) of the mean scores before and after, and of the first answers; empty without answers."""
    summary = run.metrics.get("generations")
    if not summary:
        return [], [], [], []
    scores = [[label, *(number(summary[when][key]) if key in summary.get(when, {}) else "—"
                        for when in ("before", "after"))]
              for key, label in GENERATION_SCORES.items() if key in summary.get("after", {})]
    path = run.folder / GENERATIONS
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:examples]] \
        if path.is_file() else []
    answers = [[row["prompt"], row["reference"] or "", row.get("before", {}).get("text", ""),
                row.get("after", {}).get("text", "")] for row in rows]
    return ["score", "before", "after"], scores, ["prompt", "reference", "before", "after"], answers


def generation_lines(run: Run) -> list[str]:
    header, scores, answer_header, answers = generation_tables(run)
    if not header:
        return []
    summary = run.metrics["generations"]
    return (["", "## What it writes", "",
             f"Greedy answers to {summary['prompts']} held-out prompts ({summary['split']}), before and after "
             f"training; every answer is in `generations.jsonl`.", ""] + table(header, scores) + [""]
            + table(answer_header, [[markdown_cell(value) for value in row] for row in answers]))


MARKDOWN_MARKS = set("\\`*_[]|#~")  # characters markdown acts on inside a line


def markdown_text(text) -> str:
    """Text from the data or a model as markdown shows it and never runs it: on one line, markdown's marks escaped
    with a backslash, and HTML's <, > and & as entities (a `<script>` in a prompt is shown, as report.html shows it).
    The Hub and most viewers render raw HTML in a model card."""
    marked = "".join("\\" + c if c in MARKDOWN_MARKS else c for c in " ".join(str(text).splitlines()))
    return html.escape(marked, quote=False)


def markdown_cell(text) -> str:
    return markdown_text(str(text)[:120])


def fenced(text: str, info: str = "") -> list[str]:
    """A fenced code block that the text itself cannot close: a fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def sample_lines(run: Run, limit: int = 12) -> list[str]:
    lines = []
    for row in run.samples[:limit]:
        text = json.dumps({k: v for k, v in row.items()}, ensure_ascii=False)
        lines.append(f"- <code>{markdown_text(text[:300])}</code>")
    return lines


def body_markdown(run: Run, images: bool = True) -> list[str]:
    lines = [f"# {run.folder.name}", "",
             f"{task_of(run).method if task_of(run) else run.task}, made with toolkit from `{model_source(run)}`.", "",
             "## Results on held-out data", "", "`a → b`: before → after training.", ""]
    rows = headline(run)
    lines += table(["split", "metric", "value"], rows) if rows else ["(no held-out metrics)"]
    lines += [line for warning in divergence_warnings(run) for line in ("", f"**{warning}**")]
    if "train_loss" in run.metrics:
        lines += ["", f"Training loss (mean over the run): {number(run.metrics['train_loss'])}"]
    if run.plots and images:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in run.plots]
    lines += generation_lines(run)
    if run.samples:
        lines += ["", "## Samples", ""] + sample_lines(run)
    lines += ["", "## Data", ""] + data_lines(run)
    lines += ["", "## Lineage", ""] + (lineage_lines(run) or ["- (none)"])
    lines += ["", "## Run", "",
              f"- processes: {run.info.get('world_size')}, seconds: {run.info.get('seconds')}, "
              f"weights identical across ranks: {run.info.get('weights_identical_across_ranks')}",
              "", "## Recipe (as run; every trainer setting, defaults included, is in training_args.json)", "",
              *fenced(yaml.safe_dump(run.recipe, sort_keys=False, allow_unicode=True).rstrip(), "yaml"), ""]
    return lines


def usage_lines(run: Run) -> list[str]:
    folder = run.folder
    if run.task == "classification":
        call = f'toolkit.predict("{folder}", ["some text"])'
    elif run.task == "reward":
        call = f'toolkit.score("{folder}", ["a reply"], ["its prompt"])'
    elif run.task == "mlm":
        call = f'toolkit.fill_mask("{folder}", ["The [MASK] statement"])'
    else:
        call = f'toolkit.generate("{folder}", ["a prompt"])'
    return ["## Use it", "", "```python", "import toolkit", call, "```", "",
            f"Or with transformers directly: `{task_of(run).auto_class if task_of(run) else 'AutoModel'}.from_pretrained"
            f"(\"{folder}\")` and `AutoTokenizer.from_pretrained(\"{folder}\")`.", ""]


def model_card(run: Run) -> str:
    body = body_markdown(run)
    return "---\n" + card_metadata(run) + "\n---\n\n" + "\n".join(body[:4] + usage_lines(run) + body[4:])


def inline_image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">' \
           f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}figure{display:inline-block;margin:.5em}img{max-width:520px;border:1px solid #ddd}
pre{background:#f7f7f7;padding:1em;overflow:auto}.columns{display:flex;gap:1em}.columns>div{flex:1;min-width:0}"""


def html_table(header: list[str], rows: list) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def run_html(run: Run) -> str:
    parts = [f"<h1>{html.escape(run.folder.name)}</h1>",
             f"<p>{html.escape(task_of(run).method if task_of(run) else run.task)}, from <code>{html.escape(model_source(run))}</code>.</p>",
             "<h2>Results on held-out data</h2><p><code>a → b</code>: before → after training.</p>",
             html_table(["split", "metric", "value"], headline(run))]
    parts += [f"<p><strong>{html.escape(warning)}</strong></p>" for warning in divergence_warnings(run)]
    if "train_loss" in run.metrics:
        parts.append(f"<p>Training loss (mean over the run): {html.escape(number(run.metrics['train_loss']))}</p>")
    if run.plots:
        parts += ["<h2>Plots</h2>"] + [inline_image(p) for p in run.plots]
    header, scores, answer_header, answers = generation_tables(run)
    if header:
        parts += ["<h2>What it writes</h2>", f"<p>Greedy answers to {run.metrics['generations']['prompts']} held-out "
                  f"prompts, before and after training (all in <code>generations.jsonl</code>).</p>",
                  html_table(header, scores), html_table(answer_header, answers)]
    if run.samples:
        parts += ["<h2>Samples</h2>", "<ul>"] + [
            f"<li><code>{html.escape(json.dumps(s, ensure_ascii=False)[:300])}</code></li>" for s in run.samples[:12]]
        parts.append("</ul>")
    parts += ["<h2>Lineage</h2><ul>"] + [f"<li>{html.escape(line[2:])}</li>" for line in lineage_lines(run)]
    parts += ["</ul><h2>Recipe (as run)</h2>",
              f"<pre>{html.escape(yaml.safe_dump(run.recipe, sort_keys=False, allow_unicode=True))}</pre>"]
    return "\n".join(parts)


def page(title: str, content: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{content}\n</body></html>\n")


def write_report(folder, info: dict | None = None) -> dict[str, Path]:
    """README.md (model card), report.md and report.html in the run folder; returns their paths."""
    run = read_run(folder, info)
    out = {"model_card": run.folder / MODEL_CARD, "report_md": run.folder / REPORT_MD,
           "report_html": run.folder / REPORT_HTML}
    write_atomic(out["model_card"], model_card(run))
    write_atomic(out["report_md"], "\n".join(body_markdown(run)))
    write_atomic(out["report_html"], page(run.folder.name, run_html(run)))
    return out


def recipe_differences(a: dict, b: dict) -> list[tuple[str, str, str]]:
    flat_a, flat_b = flat_settings(a), flat_settings(b)
    return [(key, flat_a.get(key, "—"), flat_b.get(key, "—")) for key in sorted(set(flat_a) | set(flat_b))
            if flat_a.get(key) != flat_b.get(key)]


def flat_settings(values: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return flat


def compare_runs(first, second, output: Path | None = None, judged: dict | None = None) -> Path:
    """One page with two runs side by side: metrics, what differs in their recipes, and their plots; with
    `judged` (toolkit.judge.judge_runs), the judge's win rate and every prompt's two answers and scores."""
    from toolkit.judge import summary_line

    a, b = read_run(first), read_run(second)
    metrics_a, metrics_b = flatten(a.metrics), flatten(b.metrics)
    rows = [(key, number(metrics_a.get(key, "—")), number(metrics_b.get(key, "—")))
            for key in sorted(set(metrics_a) | set(metrics_b)) if not key.startswith("before.")]
    names = [str(a.folder), str(b.folder)]
    content = [f"<h1>{html.escape(a.folder.name)} vs {html.escape(b.folder.name)}</h1>",
               "<h2>Metrics</h2>", html_table(["metric", *names], rows),
               "<h2>Recipe differences</h2>", html_table(["setting", *names], recipe_differences(a.recipe, b.recipe)),
               "<h2>Plots</h2><div class='columns'>"]
    if judged:
        content[2:2] = [f"<h2>Judged by {html.escape(judged['judge'])}</h2>", f"<p>{html.escape(summary_line(judged))}</p>",
                        html_table(["prompt", f"{names[0]} answer", "score", f"{names[1]} answer", "score"],
                                   [[row["prompt"], row["first"], number(row["first_score"]), row["second"],
                                     number(row["second_score"])] for row in judged["rows"]])]
    for run in (a, b):
        content.append(f"<div><h3>{html.escape(str(run.folder))}</h3>{''.join(inline_image(p) for p in run.plots)}</div>")
    content.append("</div>")
    output = Path(output) if output else Path(f"compare-{a.folder.name}-vs-{b.folder.name}.html")
    write_atomic(output, page(f"{a.folder.name} vs {b.folder.name}", "\n".join(content)))
    return output
