"""Score the model on the test rows: metrics, slices and fairness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.development.validation.settings import LOWER_IS_BETTER, GateResult, _fmt, _num
from workbench.development.validation.snapshot import _Snapshot
from workbench.errors import WorkbenchError
from workbench.paths import MODEL_FILE

# --- predictions and per-group metrics -------------------------------------------------


@dataclass
class _Scored:
    """The test rows with truth, predictions and (binary) scores."""

    frame: Any  # the prepared test frame
    y: Any
    pred: Any
    score: Any
    positive: Any
    binary: bool


def _score_test(snap: _Snapshot) -> _Scored:
    import warnings

    import numpy as np
    import pandas as pd

    from workbench.development.stages import TEST_FILE, _xy, load_model

    params = snap.params
    test = pd.read_parquet(snap.folder / TEST_FILE)
    X, y = _xy(test, params)
    model = load_model(snap.folder / MODEL_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = np.asarray(model.predict(X))
        score = None
        positive = None
        binary = False
        if params.get("task", "classification") == "classification":
            classes = list(getattr(model, "classes_", []))
            binary = len(classes) == 2
            positive = params.get("positive_class", classes[-1] if classes else None)
            if binary and positive not in classes:
                positive = classes[-1]
            if binary:
                idx = classes.index(positive)
                if hasattr(model, "predict_proba"):
                    score = np.asarray(model.predict_proba(X))[:, idx]
                elif hasattr(model, "decision_function"):
                    decision = np.asarray(model.decision_function(X))
                    score = decision if idx == 1 else -decision
    return _Scored(frame=test, y=np.asarray(y), pred=pred, score=score, positive=positive, binary=binary)


def _metric_fn(task: str, metric: str, scored: _Scored) -> tuple[Callable[[Any, Any], float], Any]:
    """A metric callable for fairlearn and the array to pass as its ``y_pred``."""
    import numpy as np
    from sklearn import metrics as m

    def safe(fn: Callable[..., float]) -> Callable[[Any, Any], float]:
        def inner(y_true: Any, y_pred: Any) -> float:
            import warnings

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return float(fn(y_true, y_pred))
            except ValueError:
                return float("nan")
        inner.__name__ = metric
        return inner

    if task == "regression":
        fns = {"rmse": lambda a, b: np.sqrt(m.mean_squared_error(a, b)),
               "mae": m.mean_absolute_error, "r2": m.r2_score}
        return safe(fns[metric]), scored.pred
    avg: dict[str, Any] = ({"average": "binary", "pos_label": scored.positive} if scored.binary
                           else {"average": "macro"})
    if metric == "roc_auc":
        if not scored.binary or scored.score is None:
            raise WorkbenchError("roc_auc per slice needs a binary classifier with scores: "
                                 "use another metric for gates.slices / gates.fairness")
        positive = scored.positive

        def auc(a: Any, s: Any) -> float:
            truth = np.asarray(a) == positive
            if truth.all() or not truth.any():
                return float("nan")
            return m.roc_auc_score(truth, s)
        return safe(auc), scored.score
    fns = {
        "accuracy": m.accuracy_score,
        "precision": lambda a, b: m.precision_score(a, b, zero_division=np.nan, **avg),
        "recall": lambda a, b: m.recall_score(a, b, zero_division=np.nan, **avg),
        "f1": lambda a, b: m.f1_score(a, b, zero_division=np.nan, **avg),
    }
    return safe(fns[metric]), scored.pred


def _data_columns(snap: _Snapshot) -> list[str]:
    from workbench.development.stages import read_sources

    return [str(c) for c in read_sources(snap.folder, snap.sources).columns]


def _test_column(snap: _Snapshot, scored: _Scored, column: str, where: str) -> Any:
    """Values of ``column`` on the test rows, in the prepared test file's order."""
    import numpy as np

    from workbench.development.stages import read_sources, split_indices

    if column in scored.frame.columns:
        return scored.frame[column].to_numpy()
    frame = read_sources(snap.folder, snap.sources)
    if column not in frame.columns:
        columns = ", ".join(str(c) for c in list(frame.columns)[:15])
        raise WorkbenchError(f"{where} {column!r} is not a column of the data: use one of {columns} "
                             "(or null to skip the gate) in workbench.yaml")
    target = snap.params["target"]
    frame = frame[frame[target].notna()].reset_index(drop=True)
    _train, test_idx = split_indices(frame, snap.params.get("split") or {}, target)
    rows = frame.iloc[test_idx].reset_index(drop=True)
    truth = rows[target].to_numpy()
    if len(rows) != len(scored.y) or not np.array_equal(truth.astype(str), np.asarray(scored.y).astype(str)):
        raise WorkbenchError(f"the test rows could not be matched to the data for {where} {column!r}: "
                             "the data changed since training; run 'dvc repro' and validate again")
    return rows[column].to_numpy()


def _groups(values: Any) -> Any:
    """Group labels for a column: its values as text, or quartile ranges for a many-valued number."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
            and series.nunique(dropna=True) > 10:
        bins = pd.qcut(series, q=4, duplicates="drop")
        labels = bins.map(lambda b: f"{b.left:g} to {b.right:g}" if isinstance(b, pd.Interval) else b)
        series = pd.Series(labels, dtype="object")
    series = series.astype("object")
    return series.where(series.notna(), "(missing)").astype(str).to_numpy()


def _slice_gate(settings: dict[str, Any], task: str, snap: _Snapshot, scored: _Scored) -> GateResult:
    import numpy as np
    from fairlearn.metrics import MetricFrame

    column, metric, floor, min_rows = (settings["column"], settings["metric"], settings["floor"],
                                       settings["min_rows"])
    groups = _groups(_test_column(snap, scored, column, "gates.slices.column"))
    fn, y_pred = _metric_fn(task, metric, scored)
    frame = MetricFrame(metrics={metric: fn}, y_true=scored.y, y_pred=y_pred, sensitive_features=groups)
    by_group = frame.by_group[metric]
    counts = {str(k): int(v) for k, v in zip(*np.unique(groups, return_counts=True), strict=True)}
    details = []
    judged: list[tuple[str, float, bool]] = []
    lower = metric in LOWER_IS_BETTER
    for group, value in by_group.items():
        group = str(group)
        number = _num(value)
        rows = counts.get(group, 0)
        if rows < min_rows:
            ok, note = None, f"fewer than {min_rows} rows: not judged"
        elif number is None:
            ok, note = None, f"{metric} is undefined here: not judged"
        else:
            ok = number <= floor if lower else number >= floor
            note = ""
            judged.append((group, number, ok))
        details.append({"group": group, "rows": rows, "value": number, "passed": ok, "note": note})
    threshold = {"floor": floor, "metric": metric, "column": column}
    if not judged:
        return GateResult("slices", None, None, threshold,
                          f"no slice of {column} has {min_rows}+ rows with a defined {metric}: not judged",
                          tuple(details))
    worst = (max if lower else min)(judged, key=lambda t: t[1])
    failing = [g for g, _v, ok in judged if not ok]
    word = "at most" if lower else "at least"
    if failing:
        why = (f"{metric} is below the floor {floor:g} in {len(failing)} slice(s) of {column}: "
               f"{', '.join(failing[:5])} (worst {worst[0]}: {_fmt(worst[1])})")
    else:
        why = (f"{metric} is {word} {floor:g} in all {len(judged)} judged slice(s) of {column} "
               f"(worst {worst[0]}: {_fmt(worst[1])})")
    return GateResult("slices", not failing, round(worst[1], 6), threshold, why, tuple(details))


def _fairness_gate(settings: dict[str, Any], task: str, snap: _Snapshot, scored: _Scored) -> GateResult:
    import numpy as np
    from fairlearn.metrics import MetricFrame

    column, metric, limit, min_rows = (settings["column"], settings["metric"],
                                       settings["max_difference"], settings["min_rows"])
    groups = _groups(_test_column(snap, scored, column, "gates.fairness.column"))
    fn, y_pred = _metric_fn(task, metric, scored)
    names, counts = np.unique(groups, return_counts=True)
    big = {str(n) for n, c in zip(names, counts, strict=True) if c >= min_rows}
    keep = np.array([g in big for g in groups], dtype=bool)
    threshold = {"max_difference": limit, "metric": metric, "column": column}
    details: list[dict[str, Any]] = [{"group": str(n), "rows": int(c), "value": None,
                                      "note": "" if str(n) in big else f"fewer than {min_rows} rows: left out"}
                                     for n, c in zip(names, counts, strict=True)]
    if keep.sum() == 0:
        return GateResult("fairness", None, None, threshold,
                          f"no group of {column} has {min_rows}+ rows: not judged", tuple(details))
    y_pred_kept = np.asarray(y_pred)[keep]
    frame = MetricFrame(metrics={metric: fn}, y_true=np.asarray(scored.y)[keep], y_pred=y_pred_kept,
                        sensitive_features=groups[keep])
    by_group = {str(k): _num(v) for k, v in frame.by_group[metric].items()}
    for row in details:
        if row["group"] in by_group:
            row["value"] = by_group[row["group"]]
            if row["value"] is None:
                row["note"] = f"{metric} is undefined here"
    defined = {g: v for g, v in by_group.items() if v is not None}
    if len(defined) < 2:
        return GateResult("fairness", None, None, threshold,
                          f"fewer than two groups of {column} with a defined {metric}: not judged",
                          tuple(details))
    if len(defined) < len(by_group):
        frame = MetricFrame(metrics={metric: fn},
                            y_true=np.asarray(scored.y)[keep][np.isin(groups[keep], list(defined))],
                            y_pred=y_pred_kept[np.isin(groups[keep], list(defined))],
                            sensitive_features=groups[keep][np.isin(groups[keep], list(defined))])
    gap = _num(frame.difference(method="between_groups")[metric])
    if gap is None:
        return GateResult("fairness", None, None, threshold, f"the {metric} gap is undefined: not judged",
                          tuple(details))
    hi = max(defined, key=lambda g: defined[g])
    lo = min(defined, key=lambda g: defined[g])
    span = (f"{hi} {_fmt(defined[hi])} vs {lo} {_fmt(defined[lo])}" if defined[hi] != defined[lo]
            else f"all {len(defined)} groups {_fmt(defined[hi])}")
    passed = gap <= limit
    why = (f"the largest {metric} gap between {column} groups is {gap:.4g} "
           f"({'within' if passed else 'above'} the limit {limit:g}): {span}")
    return GateResult("fairness", passed, round(gap, 6), threshold, why, tuple(details))
