"""Experiments' ROC and precision-recall curves, each read from git at the experiment's commit."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.versioning.history import file_at

#: kind -> (plot file, x key, y key, title, x label, y label)
CURVES = {"roc": ("plots/roc.json", "fpr", "tpr", "ROC", "false positive rate", "true positive rate"),
          "prc": ("plots/prc.json", "recall", "precision", "Precision-recall", "recall", "precision")}


def read_curves(path: Path, revs: dict[str, str], kind: str) -> dict[str, list[tuple[float, float]]]:
    """Each experiment's curve points (x, y) read from git at its commit (``rev:./plots/...``)."""
    file, x, y, *_ = CURVES[kind]
    out: dict[str, list[tuple[float, float]]] = {}
    for name, rev in revs.items():
        text = file_at(path, rev, file)
        try:
            data = json.loads(text)
        except ValueError:
            continue
        points = next(iter(data.values()), []) if isinstance(data, dict) else data
        out[name] = [(float(p[x]), float(p[y])) for p in points if isinstance(p, dict) and x in p and y in p]
    return out
