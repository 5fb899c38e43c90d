"""What a person reads after a run, built from the files the run wrote: one page with the metrics, how to use
the model, plots, answers, samples, data, lineage and the recipe (report_page), written as report.md, as
report.html (plots inline, so the file stands alone) and, under the Hub's metadata, as the model card (README.md);
toolkit.report_pages writes a page in either form. `compare_runs` puts two runs side by side. Everything here
reads the run folder, so `toolkit report` rebuilds it at any time."""

from __future__ import annotations

import html
import json
from pathlib import Path

import yaml

from toolkit.files import write_atomic
from toolkit.report_pages import (Bullets, Code, CodeBlock, Figures, Page, Paragraph, Section, Table, document,
                                  html_page, html_table, inline_image, markdown_page)
from toolkit.run_folder import GENERATIONS, MODEL_CARD, REPORT_HTML, REPORT_MD, TRAINING_ARGS, Run, read_run

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
        if split in ("before", "generations", "held_out_loss_rose", "reward_preflight") or not isinstance(values, dict):
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


def report_page(run: Run) -> Page:
    """The run's report, built once: report.md, report.html and the model card's body are this page written out,
    so they show the same sections."""
    method = task_of(run).method if task_of(run) else run.task
    lead = [Paragraph([f"{method}, made with toolkit from ", Code(model_source(run)), "."])]
    sections = [results_section(run), usage_section(run), plots_section(run), answers_section(run),
                samples_section(run), data_section(run), lineage_section(run), run_section(run), recipe_section(run)]
    return Page(run.folder.name, lead, [section for section in sections if section])


def results_section(run: Run) -> Section:
    rows = headline(run)
    legend = [Paragraph([Code("a → b"), ": before → after training."])] if run.metrics.get("before") else []
    blocks = legend + [Table(["split", "metric", "value"], rows) if rows else Paragraph("(no held-out metrics)")]
    blocks += [Paragraph(warning, strong=True) for warning in divergence_warnings(run)]
    if "train_loss" in run.metrics:
        blocks.append(Paragraph(f"Training loss (mean over the run): {number(run.metrics['train_loss'])}"))
    if run.metrics.get("reward_preflight"):  # rlhf: sampled from the start, before training (toolkit.rl_preflight)
        from toolkit.rl_preflight import figures_line

        blocks.append(Paragraph(f"Before training, {figures_line(run.metrics['reward_preflight'])}."))
    return Section("Results on held-out data", blocks)


CALLS = {"classification": 'toolkit.predict("{folder}", ["some text"])',
         "reward": 'toolkit.score("{folder}", ["a reply"], ["its prompt"])',
         "mlm": 'toolkit.fill_mask("{folder}", ["The [MASK] statement"])'}
GENERATE = 'toolkit.generate("{folder}", ["a prompt"])'  # every other task makes a model that writes


def usage_section(run: Run) -> Section:
    folder = run.folder
    auto_class = task_of(run).auto_class if task_of(run) else "AutoModel"
    return Section("Use it", [
        CodeBlock(f"import toolkit\n{CALLS.get(run.task, GENERATE).format(folder=folder)}", "python"),
        Paragraph(["Or with transformers directly: ", Code(f'{auto_class}.from_pretrained("{folder}")'), " and ",
                   Code(f'AutoTokenizer.from_pretrained("{folder}")'), "."])])


def plots_section(run: Run) -> Section | None:
    return Section("Plots", [Figures(run.plots)]) if run.plots else None


GENERATION_SCORES = {"exact_match": "exact match", "f1": "token F1", "rouge_l": "ROUGE-L",
                     "length": "length (tokens)", "stopped": "stopped at end of turn", "distinct_1": "distinct-1",
                     "distinct_2": "distinct-2", "longest_repeat": "longest repeated n-gram (words)",
                     "judge": "judge's score"}
ANSWER_CHARACTERS = 120  # of each text in the answers table: enough to judge an answer, and the table stays a table
SAMPLE_CHARACTERS = 300


def cut(text, limit: int) -> str:
    """Long text is cut in the page itself, not by a writer, so report.md and report.html show the same."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def answers_section(run: Run) -> Section | None:
    """The mean scores of the held-out answers before and after training, and the first few answers; None for a
    run that wrote none."""
    summary = run.metrics.get("generations")
    if not summary:
        return None
    scores = [[label, *(number(summary[when][key]) if key in summary.get(when, {}) else "—"
                        for when in ("before", "after"))]
              for key, label in GENERATION_SCORES.items() if key in summary.get("after", {})]
    first = first_answers(run)
    return Section("What it writes", [
        Paragraph([f"Greedy answers to {summary['prompts']} held-out prompts ({summary['split']}), before and after "
                   "training; every answer is in ", Code(GENERATIONS), "."]),
        Table(["score", "before", "after"], scores),
        Paragraph(f"The first {len(first)} of the {summary['prompts']} answers:" if len(first) < summary["prompts"]
                  else "The answers:"),
        Table(["prompt", "reference", "before", "after"], first)])


def first_answers(run: Run, examples: int = 3) -> list[list[str]]:
    path = run.folder / GENERATIONS
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:examples]] \
        if path.is_file() else []
    return [[cut(text, ANSWER_CHARACTERS) for text in (row["prompt"], row["reference"] or "",
                                                       row.get("before", {}).get("text", ""),
                                                       row.get("after", {}).get("text", ""))] for row in rows]


def samples_section(run: Run, limit: int = 12) -> Section | None:
    if not run.samples:
        return None
    return Section("Samples", [Bullets([Code(cut(json.dumps(row, ensure_ascii=False), SAMPLE_CHARACTERS))
                                        for row in run.samples[:limit]])])


def data_section(run: Run) -> Section:
    """Where each split came from (the lineage's record, else the recipe's), and a mixture's draw as a table."""
    data = run.lineage.get("data") or {k: v for k, v in run.recipe.get("data", {}).items()
                                       if k in ("train", "validation", "test", "name") and v}
    items = [[f"{split}: ", Code(str(source))] for split, source in data.items() if split != "mixture"]
    mixture = data.get("mixture")
    if not mixture:
        return Section("Data", [Bullets(items or ["(not recorded)"]), *data_credits(data)])
    items.append(f"train: a mixture of {len(mixture['datasets'])} datasets, {mixture['train_rows']} rows, "
                 f"drawn with seed {mixture['seed']}:")
    drawn = [[Code(str(row["id"])), Code(str(row["split"])), row["rows"], f"{row['weight']:g}", row["taken"]]
             for row in mixture["datasets"]]
    return Section("Data", [Bullets(items), Table(["dataset", "split", "rows", "weight", "rows taken"], drawn),
                            *data_credits(data)])


def data_credits(data: dict) -> list[Paragraph]:
    """The credit each shipped data file taken from others' work asks for (toolkit.assets), once per source: the
    card is how a model trained on it passes the data's licence on."""
    from toolkit.assets import attribution

    sources = [source for split, source in data.items() if split != "mixture"]
    sources += [row.get("id") for row in (data.get("mixture") or {}).get("datasets", [])]
    credits = dict.fromkeys(credit for credit in map(attribution, sources) if credit)
    return [Paragraph(f"Data credit: {credit}") for credit in credits]


def lineage_section(run: Run) -> Section:
    """This run, the run its model came from, and so on back to a model that was not a run."""
    items, node = [], run.lineage
    while node:
        items.append([Code(str(node.get("output_dir"))), f" ← {node.get('task')} on ", Code(str(node.get("model")))])
        node = node.get("parent")
    return Section("Lineage", [Bullets(items or ["(none)"])])


def run_section(run: Run) -> Section:
    info = run.info
    return Section("Run", [Bullets([f"processes: {info.get('world_size')}", f"seconds: {info.get('seconds')}",
                                    f"weights identical across ranks: {info.get('weights_identical_across_ranks')}"])])


def recipe_section(run: Run) -> Section:
    recipe = yaml.safe_dump(run.recipe, sort_keys=False, allow_unicode=True).rstrip()
    return Section("Recipe as run", [
        Paragraph(["Every trainer setting, defaults included, is in ", Code(TRAINING_ARGS), "."]),
        CodeBlock(recipe, "yaml")])


def model_card(run: Run) -> str:
    """The report in the Hugging Face model-card form: the Hub's metadata, then the page as Markdown."""
    return "---\n" + card_metadata(run) + "\n---\n\n" + markdown_page(report_page(run))


def write_report(folder, info: dict | None = None) -> dict[str, Path]:
    """README.md (model card), report.md and report.html in the run folder; returns their paths."""
    run = read_run(folder, info)
    page = report_page(run)
    out = {"model_card": run.folder / MODEL_CARD, "report_md": run.folder / REPORT_MD,
           "report_html": run.folder / REPORT_HTML}
    write_atomic(out["model_card"], model_card(run))
    write_atomic(out["report_md"], markdown_page(page))
    write_atomic(out["report_html"], html_page(page))
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
    `judged` (toolkit.metrics.judge.judge_runs), the judge's win rate and every prompt's two answers and scores."""
    from toolkit.metrics.judge import summary_line

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
    write_atomic(output, document(f"{a.folder.name} vs {b.folder.name}", "\n".join(content)))
    return output
