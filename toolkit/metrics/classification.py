"""Metrics computed from predictions, with scikit-learn (offline; `evaluate.load` needs the hub)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(labels, predictions, num_labels: int) -> dict:
    """Accuracy and macro precision/recall/F1 (each class counts the same, whatever its size)."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, labels=list(range(num_labels)), average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predictions)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


def confusion(labels, predictions, num_labels: int) -> list[list[int]]:
    """Rows are true labels, columns predicted labels."""
    return confusion_matrix(labels, predictions, labels=list(range(num_labels))).tolist()


def argmax_logits(logits) -> np.ndarray:
    logits = logits[0] if isinstance(logits, tuple) else logits
    return np.asarray(logits).argmax(axis=-1)
