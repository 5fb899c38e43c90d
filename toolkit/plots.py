"""The pictures a person looks at after a run: loss curves, confusion matrices and histograms of per-example
values (PNG, headless)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from toolkit.files import save_figure  # noqa: E402


def plot_loss(log_history: list[dict], path: Path, title: str = "Loss") -> Path | None:
    """Training loss per logging step and eval loss per evaluation, against the optimizer step."""
    train = [(row["step"], row["loss"]) for row in log_history if "loss" in row]
    key = "eval_loss" if any("eval_loss" in row for row in log_history) else "eval_validation_loss"
    evals = [(row["step"], row[key]) for row in log_history if key in row]
    if not train and not evals:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=True), marker="o", label="eval loss")
    return finish(fig, ax, path, title, "step", "loss")


def finish(fig, ax, path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_confusion(matrix: list[list[int]], label_names: list[str], path: Path, title: str) -> Path:
    from sklearn.metrics import ConfusionMatrixDisplay

    import numpy as np

    size = max(4, 0.6 * len(label_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(np.array(matrix), display_labels=label_names).plot(ax=ax, colorbar=False,
                                                                              cmap="Blues")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_metrics(log_history: list[dict], names: list[str], path: Path, title: str) -> Path | None:
    """One panel per metric, training and evaluation values against the step (keys as the trainer logs
    them: `name` while training, `eval_name` at evaluations)."""
    series = {}
    for name in names:
        train = [(row["step"], row[name]) for row in log_history if name in row]
        evals = [(row["step"], row[f"eval_{name}"]) for row in log_history if f"eval_{name}" in row]
        if train or evals:
            series[name] = (train, evals)
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.6), squeeze=False)
    for ax, (name, (train, evals)) in zip(axes[0], series.items(), strict=True):
        if train:
            ax.plot(*zip(*train, strict=True), label="train")
        if evals:
            ax.plot(*zip(*evals, strict=True), marker="o", label="eval")
        ax.set_xlabel("step")
        ax.set_title(name.replace("_", " ").replace("/", ": "))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_values(series: dict[str, list[float]], path: Path, title: str, xlabel: str,
                zero_line: bool = False) -> Path | None:
    """Histograms of one per-example value, one series per stage or kind (e.g. before / after)."""
    series = {name: [v for v in values if v is not None and math.isfinite(v)] for name, values in series.items()}
    series = {name: values for name, values in series.items() if values}
    if not series:
        return None
    import numpy as np

    # One set of bins for every series, so before and after are read on the same scale.
    everything = [v for values in series.values() for v in values]
    bins = np.histogram_bin_edges(everything, bins=min(40, max(5, len(everything) // 6)))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in series.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{name} (n={len(values)})")
    if zero_line:
        ax.axvline(0.0, color="black", linewidth=0.8)
    return finish(fig, ax, path, title, xlabel, "examples")
