"""Target summary and leakage scores (see the package docstring for the definitions)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workbench.design.profile.columns import _Col, _dictionary
from workbench.design.profile.settings import _POSITIVE, ProfileSettings, TargetSummary, _label

# --- target and leakage ----------------------------------------------------------------


def _target(col: _Col, chunked: Any, settings: ProfileSettings) -> tuple[TargetSummary, Any, Any]:
    """Summarise the target; return it with the encoded labels (codes or values) per row."""
    import numpy as np

    s = col.stats
    n = s.count + s.missing
    if settings.task == "regression" and s.kind in ("numeric", "integer", "boolean"):
        summary = TargetSummary(column=s.name, task="regression", count=s.count, missing=s.missing,
                                missing_share=s.missing_share, distinct=s.distinct,
                                min=s.min, max=s.max, mean=s.mean, std=s.std)  # type: ignore[arg-type]
        return summary, None, col.values
    if col.codes is not None:
        codes, labels = col.codes, [_label(v) for v in col.labels.to_pylist()]
    else:
        codes, labels = _dictionary(chunked)
        labels = [_label(v) for v in labels.to_pylist()]
    counts = np.bincount(codes + 1, minlength=len(labels) + 1)[1:]
    present = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    classes = tuple((labels[i], int(counts[i])) for i in present)
    positive_label = positives = minority = None
    if len(classes) >= 2:
        minority = min(c for _, c in classes) / s.count
    if len(classes) == 2:
        pos = [lab for lab, _ in classes if lab.strip().lower() in _POSITIVE]
        positive_label = pos[0] if len(pos) == 1 else min(classes, key=lambda kv: kv[1])[0]
        positives = dict(classes)[positive_label]
    elif len(classes) > 2:
        positives = min(c for _, c in classes)  # the smallest class must carry enough examples
    summary = TargetSummary(column=s.name, task="classification", count=s.count, missing=s.missing,
                            missing_share=s.missing / n if n else 0.0, distinct=len(classes),
                            classes=classes[:50], positive_label=positive_label, positives=positives,
                            minority_share=minority)
    # remap codes so that only present classes count, positive label last for binary
    order = {lab: i for i, (lab, _) in enumerate(sorted(classes, key=lambda kv: kv[0] == positive_label))}
    remap = np.full(len(labels) + 1, -1, dtype=np.int32)
    for i, lab in enumerate(labels):
        if lab in order:
            remap[i + 1] = order[lab]
    return summary, remap[codes + 1], None


def _ranks(x: Any) -> Any:
    import pandas as pd

    return pd.Series(x, copy=False).rank(method="average").to_numpy()


def _auc(score: Any, y: Any) -> float | None:
    """ROC AUC of ``score`` for the 0/1 labels ``y``, ties counted half; max(auc, 1 - auc)."""
    import numpy as np

    n1 = int(y.sum())
    n0 = int(y.size - n1)
    if n1 == 0 or n0 == 0:
        return None
    _, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=y, minlength=inverse.max() + 1)
    neg = np.bincount(inverse, minlength=inverse.max() + 1) - pos
    below = np.cumsum(neg) - neg
    auc = float((pos * below).sum() + 0.5 * (pos * neg).sum()) / (n1 * n0)
    return max(auc, 1.0 - auc)


def _feature_codes(col: _Col, idx: Any) -> Any:
    """Feature as small integer codes on the sample (numeric: 20 quantile bins, 0 = missing)."""
    import numpy as np

    if col.codes is not None:
        return col.codes[idx].astype(np.int64) + 1
    x = col.values[idx].astype(np.float64)
    ok = ~np.isnan(x)
    if not ok.any():
        return np.zeros(x.size, dtype=np.int64)
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, 21)[1:-1]))
    out = np.searchsorted(edges, x, side="right").astype(np.int64) + 1
    out[~ok] = 0
    return out


def _leakage(col: _Col, idx: Any, y: Any, task: str) -> float | None:
    """The leakage score of one feature on the sample rows ``idx`` (see the module docstring)."""
    import numpy as np

    half_a = np.arange(idx.size) % 2 == 0
    half_b = ~half_a
    if task == "binary":
        if col.values is not None:
            x = col.values[idx].astype(np.float64)
            nan = np.isnan(x)
            if nan.all():
                return None
            if nan.any():
                x[nan] = np.nanmin(x) - 1.0
            return _auc(x, y)
        codes = col.codes[idx].astype(np.int64) + 1
        m = int(codes.max()) + 1
        cnt = np.bincount(codes[half_a], minlength=m)
        pos = np.bincount(codes[half_a], weights=y[half_a], minlength=m)
        base = float(y[half_a].mean()) if half_a.any() else 0.0
        rate = np.where(cnt > 0, pos / np.maximum(cnt, 1), base)
        return _auc(rate[codes[half_b]], y[half_b])
    if task == "multiclass":
        f = _feature_codes(col, idx)
        k = int(y.max()) + 1
        m = int(f.max()) + 1
        joint = np.bincount(f[half_a] * k + y[half_a], minlength=m * k).reshape(m, k)
        majority = int(np.bincount(y[half_a], minlength=k).argmax())
        pred = np.where(joint.sum(axis=1) > 0, joint.argmax(axis=1), majority)
        p, t = pred[f[half_b]], y[half_b]
        recalls = [float((p[t == c] == c).mean()) for c in np.unique(t)]
        return float(np.mean(recalls)) if recalls else None
    # regression
    if col.values is not None:
        x = col.values[idx].astype(np.float64)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() < 3:
            return None
        rx, ry = _ranks(x[ok]), _ranks(y[ok])
        if rx.std() == 0 or ry.std() == 0:
            return 0.0
        return abs(float(np.corrcoef(rx, ry)[0, 1]))
    codes = col.codes[idx].astype(np.int64) + 1
    ok = ~np.isnan(y)
    a, b = half_a & ok, half_b & ok
    m = int(codes.max()) + 1
    cnt = np.bincount(codes[a], minlength=m)
    total = np.bincount(codes[a], weights=y[a], minlength=m)
    base = float(y[a].mean()) if a.any() else 0.0
    mean = np.where(cnt > 0, total / np.maximum(cnt, 1), base)
    pred, truth = mean[codes[b]], y[b]
    sst = float(((truth - truth.mean()) ** 2).sum())
    if sst == 0:
        return 0.0
    return max(0.0, 1.0 - float(((truth - pred) ** 2).sum()) / sst)


def _leakage_scores(cols: dict[str, _Col], target: TargetSummary, ycodes: Any, yvalues: Any,
                    settings: ProfileSettings, n_rows: int, pool: ThreadPoolExecutor) -> dict[str, float]:
    import numpy as np

    if target.task == "regression":
        known = np.flatnonzero(~np.isnan(yvalues.astype(np.float64)))
        task = "regression"
    else:
        known = np.flatnonzero(ycodes >= 0)
        task = "binary" if target.distinct == 2 else "multiclass"
        if target.distinct < 2:
            return {}
    if known.size < 10:
        return {}
    # a random order, so the two halves of the held-out checks do not follow the file's order
    rng = np.random.default_rng(0)
    if known.size > settings.leakage_sample:
        known = rng.choice(known, settings.leakage_sample, replace=False)
    else:
        known = rng.permutation(known)
    y = yvalues[known].astype(np.float64) if task == "regression" else ycodes[known].astype(np.int64)
    todo = [name for name, col in cols.items()
            if col.stats.role not in ("target", "excluded") and col.stats.count and not col.stats.constant]
    scores = list(pool.map(lambda n: _leakage(cols[n], known, y, task), todo))
    return {n: s for n, s in zip(todo, scores, strict=False) if s is not None and math.isfinite(s)}
