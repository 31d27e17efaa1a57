"""Compare a batch with the reference and judge it (``run_monitor``: writes nothing)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.drift import FeatureDrift, not_compared
from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.monitoring.batch import Batch, read_batch_file, read_prediction_log
from workbench.operations.monitoring.history import _last_log_ts
from workbench.operations.monitoring.report import MonitorReport, Performance
from workbench.operations.monitoring.settings import (
    ACTION,
    DEFAULT_SETTINGS,
    HEALTHY,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    METHOD_NAMES,
    MISSING_RISE,
    _fmt,
    monitoring_settings,
)
from workbench.paths import MODEL_FILE, REFERENCE_FILE, user_path
from workbench.progress import Progress
from workbench.project import Project
from workbench.reference import read_reference

# --- comparing -------------------------------------------------------------------------------


def _compare_feature(name: str, profile: dict[str, Any], arr: Any, *, small: bool,
                     thresholds: dict[str, float]) -> tuple[FeatureDrift, dict[str, str] | None]:
    """One feature; returns the comparison and, when the column changed type, what it found."""
    from workbench.drift import (
        categorical_column,
        compare_categorical,
        compare_numeric,
        numeric_column,
    )

    kind = str(profile.get("type") or profile.get("kind"))
    if kind in ("numeric", "datetime", "text"):
        col = numeric_column(arr, kind)
        parsed = col.rows - col.missing
        if col.junk and col.junk > parsed:
            example = f" (e.g. {col.junk_examples[0]!r})" if col.junk_examples else ""
            found = f"text{example}"
            why = (f"{name} is {kind} in the reference but text in the batch: {col.junk:,} of "
                   f"{col.rows:,} values are not {'dates' if kind == 'datetime' else 'numbers'}{example}")
            return (not_compared(name, kind, why, reference=profile, current_rows=col.rows),
                    {"column": name, "expected": kind, "found": found})
        notes: tuple[str, ...] = ()
        if col.junk:
            shown = ", ".join(repr(e) for e in col.junk_examples)
            notes = (f"{col.junk:,} value(s) are not {'dates' if kind == 'datetime' else 'numbers'} "
                     f"({shown}): counted as missing",)
        return compare_numeric(name, profile, col.values, kind=kind, small=small, thresholds=thresholds,
                               notes=notes), None
    col = categorical_column(arr)
    ref_names = [str(c) for c, _ in profile.get("categories") or []]
    if col.found_type == "number" and ref_names and not any(_is_number(c) for c in ref_names):
        why = f"{name} is categorical text in the reference (e.g. {ref_names[0]!r}) but numbers in the batch"
        return (not_compared(name, kind, why, reference=profile, current_rows=col.rows),
                {"column": name, "expected": kind, "found": "number"})
    return compare_categorical(name, profile, col.counts or {}, col.missing, kind=kind, small=small,
                               thresholds=thresholds), None


def compare_table(table: Any, profiles: dict[str, dict[str, Any]], *, small: bool,
                  thresholds: dict[str, float] = DEFAULT_SETTINGS, cancel: threading.Event | None = None,
                  workers: int = 2) -> tuple[list[FeatureDrift], tuple[dict[str, str], ...]]:
    """Compare every profiled column of a pyarrow table (all present) in ``workers`` threads.

    Returns the comparisons (in ``profiles`` order) and the columns that changed type.
    """
    def one(name: str) -> tuple[FeatureDrift, dict[str, str] | None]:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the monitoring check was cancelled; nothing was written")
        return _compare_feature(name, profiles[name], table.column(name), small=small, thresholds=thresholds)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="drift") as pool:
        results = list(pool.map(one, list(profiles)))
    rows = []
    for r, _ in results:
        before, now = r.reference_missing_share, r.current_missing_share
        if before is not None and now is not None and now - before >= MISSING_RISE:
            r = replace(r, notes=(*r.notes, f"missing values rose from {before:.1%} to {now:.1%}"))
        rows.append(r)
    return rows, tuple(rt for _, rt in results if rt is not None)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _metrics(task: str, model: Any, X: Any, y: Any, positive: Any) -> dict[str, float]:
    """The evaluate stage's metrics (without plots) on labelled rows."""
    import warnings

    import numpy as np
    from sklearn import metrics as m

    from workbench.reference import prediction_outputs

    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            pred = np.asarray(model.predict(X), dtype="float64")
            yt = np.asarray(y, dtype="float64")
            out = {"rmse": float(np.sqrt(m.mean_squared_error(yt, pred))),
                   "mae": float(m.mean_absolute_error(yt, pred)), "r2": float(m.r2_score(yt, pred))}
        else:
            classes = list(model.classes_)
            pred, score = prediction_outputs(model, X, {"task": task, "positive_class": positive})
            binary = len(classes) == 2
            if binary and positive not in classes:
                positive = classes[-1]
            avg: dict[str, Any] = {"average": "binary", "pos_label": positive} if binary else {"average": "macro"}
            out = {"accuracy": float(m.accuracy_score(y, pred)),
                   "precision": float(m.precision_score(y, pred, zero_division=0, **avg)),
                   "recall": float(m.recall_score(y, pred, zero_division=0, **avg)),
                   "f1": float(m.f1_score(y, pred, zero_division=0, **avg))}
            truth = np.asarray(y) == positive
            if binary and score is not None and 0 < truth.sum() < len(truth):
                out["roc_auc"] = float(m.roc_auc_score(truth, score))
    return {k: round(v, 6) for k, v in out.items() if not (math.isnan(v) or math.isinf(v))}


def _align_labels(y: Any, classes: list[Any]) -> Any:
    """Batch labels in the type the model's classes have (CSV ints vs JSON strings)."""
    import numpy as np
    import pandas as pd

    if not classes:
        return y
    if all(isinstance(c, str) for c in classes):
        return y.astype(str).where(y.notna(), None)
    if all(isinstance(c, (int, float, np.number)) and not isinstance(c, (bool, np.bool_)) for c in classes):
        return pd.to_numeric(y, errors="coerce")
    return y


def run_monitor(
    project_path: str | Path,
    current: str | Path | None = None,
    *,
    reference: str | Path | None = None,
    all_log: bool = False,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> tuple[MonitorReport, Batch]:
    """Compare a batch with the reference and judge it; write nothing.

    ``current`` is a data file (relative to ``cwd``); None reads the prediction log.
    Raises :class:`WorkbenchError` for unusable input.
    """
    project = Project(project_path)
    config = project.read_config()
    root = project.path
    thresholds = monitoring_settings(config)
    say = progress or (lambda _line: None)
    now = now or datetime.now(UTC)

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the monitoring check was cancelled; nothing was written")

    ref, ref_display = _load_reference(root, reference, cwd)
    say(f"reference: {ref_display} ({int(ref.get('rows') or 0):,} rows)")

    batch = _read_batch(root, current, all_log=all_log, cwd=cwd, say=say, cancel=cancel)
    check_cancel()
    features: dict[str, dict[str, Any]] = ref["features"]
    target = str(ref.get("target") or "")
    columns = list(batch.table.column_names)
    missing = tuple(f for f in features if f not in columns)
    extra = tuple(c for c in columns if c not in features and c != target)
    present = [f for f in features if f in columns]
    _refuse_unusable(batch, features, columns, present, int(thresholds["min_rows"]))

    # Statistical tests when either side is small (their p-values account for sample size);
    # distances for two large samples, where every test would flag negligible differences.
    small = min(int(ref.get("rows") or 0), batch.rows) <= thresholds["small_reference_rows"]

    say(f"comparing {len(present)} feature(s) with the reference "
        f"({'KS / chi-squared' if small else 'Wasserstein / Jensen-Shannon'})")
    compared, retyped = compare_table(batch.table, {n: features[n] for n in present}, small=small,
                                      thresholds=thresholds, cancel=cancel)
    check_cancel()
    for name in missing:
        compared.append(not_compared(name, str(features[name].get("type")),
                                     f"{name} is not in the batch", reference=features[name]))
    order = {n: i for i, n in enumerate(features)}
    compared.sort(key=lambda f: (-(f.severity), order.get(f.name, 0)))

    task = str(ref.get("task") or "classification")
    pred_rows, pred_note, performance, perf_note = _score_batch(
        root, ref, batch, missing, retyped, thresholds, say, check_cancel)
    reasons, notes = _verdict(batch, compared, pred_rows, performance, missing, retyped, extra, thresholds)
    batch_info: dict[str, Any] = {
        "source": batch.source, "display": batch.display, "rows": batch.rows, "columns": len(columns),
        "path": None, "dvc_md5": None, "first_ts": batch.first_ts, "last_ts": batch.last_ts,
        "versions": list(batch.versions), "log_files": list(batch.log_files),
    }
    ref_info = {"path": ref_display, "rows": int(ref.get("rows") or 0),
                "test_rows": int(ref.get("test_rows") or 0), "task": task, "target": target,
                "small": small}
    report = MonitorReport(
        status=ACTION if reasons else HEALTHY, reasons=tuple(reasons),
        checked_at=now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        batch=batch_info, reference=ref_info, thresholds=thresholds, features=tuple(compared),
        missing_columns=missing, extra_columns=extra, retyped_columns=retyped,
        prediction_drift=pred_rows, prediction_note=pred_note, performance=performance,
        performance_note=perf_note, notes=tuple(notes),
    )
    say(report.summary)
    return report, batch


def _load_reference(root: Path, reference: str | Path | None,
                    cwd: str | Path | None) -> tuple[dict[str, Any], str]:
    """The reference (the project's ``reports/reference.json`` unless given) and how to name it."""
    if reference is None:
        ref_path, ref_display = root / REFERENCE_FILE, REFERENCE_FILE
    else:
        ref_path, ref_display = user_path(reference, cwd), str(reference)
    return read_reference(ref_path, ref_display), ref_display


def _read_batch(root: Path, current: str | Path | None, *, all_log: bool, cwd: str | Path | None,
                say: Progress, cancel: threading.Event | None) -> Batch:
    """The batch file ``current``, or the prediction log's lines (after the last log-based report)."""
    if current is not None:
        say(f"reading {current}")
        return read_batch_file(current, cwd=cwd, cancel=cancel)
    since = None if all_log else _last_log_ts(root)
    say(f"reading the prediction log{f' after {since}' if since else ''}")
    return read_prediction_log(root, since=since, cancel=cancel)


def _refuse_unusable(batch: Batch, features: dict[str, dict[str, Any]], columns: list[str],
                     present: list[str], min_rows: int) -> None:
    """Raise :class:`WorkbenchError` for a batch without any feature, or with too few rows."""
    if not present:
        shown = ", ".join(list(features)[:8]) + (", ..." if len(features) > 8 else "")
        found = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise WorkbenchError(f"{batch.display} has none of the model's features (expected {shown}; found "
                             f"{found}): give a batch with the columns the model was trained on")
    if batch.rows < min_rows:
        raise WorkbenchError(
            f"{batch.display} has {batch.rows:,} row{'s' if batch.rows != 1 else ''}: a drift check needs at least "
            f"{min_rows} (monitoring.min_rows in workbench.yaml); wait for a bigger batch")


def _score_batch(
    root: Path, ref: dict[str, Any], batch: Batch, missing: tuple[str, ...], retyped: tuple[dict[str, str], ...],
    thresholds: dict[str, float], say: Progress, check_cancel: Callable[[], None],
) -> tuple[tuple[FeatureDrift, ...], str | None, Performance | None, str | None]:
    """Prediction drift and performance: they need the model and every feature."""
    pred_rows: tuple[FeatureDrift, ...] = ()
    pred_note: str | None = None
    performance: Performance | None = None
    perf_note: str | None = None
    features: dict[str, dict[str, Any]] = ref["features"]
    target = str(ref.get("target") or "")
    task = str(ref.get("task") or "classification")
    model_path = root / MODEL_FILE
    if missing or retyped:
        bad = ", ".join([*missing, *(r["column"] for r in retyped)])
        pred_note = f"prediction drift not measured: the model cannot score a batch without {bad}"
        perf_note = "performance not measured: " + pred_note.split(": ", 1)[1]
    elif not model_path.is_file():
        pred_note = (f"prediction drift not measured: {MODEL_FILE} is missing (run 'dvc pull' or "
                     "'dvc repro' to get it)")
        perf_note = "performance not measured: " + pred_note.split(": ", 1)[1]
    else:
        from workbench.development.stages import coerce_features, load_model

        say(f"scoring {batch.rows:,} rows with {MODEL_FILE}")
        model = load_model(model_path)
        frame = batch.table.select(list(features)).to_pandas()
        X = coerce_features(frame, {n: str(p.get("type")) for n, p in features.items()})
        pred_rows, pred_note = _prediction_drift(ref, model, X, thresholds)
        check_cancel()
        if target and target in list(batch.table.column_names):
            performance, perf_note = _performance(ref, model, X, batch.table.column(target), task,
                                                  thresholds, int(thresholds["min_rows"]))
        else:
            perf_note = f"performance not measured: the batch has no target column {target!r}"
    return pred_rows, pred_note, performance, perf_note


def _verdict(
    batch: Batch, compared: list[FeatureDrift], pred_rows: tuple[FeatureDrift, ...],
    performance: Performance | None, missing: tuple[str, ...], retyped: tuple[dict[str, str], ...],
    extra: tuple[str, ...], thresholds: dict[str, float],
) -> tuple[list[str], list[str]]:
    """Why action is recommended (empty: healthy), and the notes beside the verdict."""
    reasons: list[str] = []
    drifted = [f for f in compared if f.drifted]
    n_compared = sum(1 for f in compared if f.drifted is not None)
    share = len(drifted) / n_compared if n_compared else 0.0
    if n_compared and share >= thresholds["drift_share"]:
        names = ", ".join(f.name for f in drifted[:6]) + (", ..." if len(drifted) > 6 else "")
        reasons.append(f"dataset drift: {len(drifted)} of {n_compared} features drifted ({share:.0%}, threshold "
                       f"{thresholds['drift_share']:.0%}): {names}")
    if any(p.drifted for p in pred_rows):
        worst = max((p for p in pred_rows if p.drifted), key=lambda p: p.severity)
        judged = (f"p-value {_fmt(worst.p_value)} < {_fmt(worst.threshold)}" if worst.p_value is not None
                  else f"threshold {_fmt(worst.threshold)}")
        reasons.append(f"prediction drift: {worst.name} {METHOD_NAMES[worst.method]} "
                       f"{_fmt(worst.statistic)} ({judged})")
    if performance and performance.degraded:
        reasons.extend(performance.degraded)
    if missing:
        reasons.append(f"the batch lacks feature column(s) {', '.join(missing)}: fix the data feed")
    for rt in retyped:
        reasons.append(f"{rt['column']} arrived as {rt['found']}, not {rt['expected']}: fix the data feed")
    notes = list(batch.notes)
    if drifted and not (n_compared and share >= thresholds["drift_share"]):
        notes.append(f"{len(drifted)} of {n_compared} features drifted ({share:.0%}), below the dataset drift "
                     f"threshold {thresholds['drift_share']:.0%}: watch {', '.join(f.name for f in drifted[:6])}")
    if extra:
        notes.append(f"extra column(s) not used by the model (ignored): {', '.join(extra[:12])}"
                     f"{', ...' if len(extra) > 12 else ''}")
    return reasons, notes


def _prediction_drift(ref: dict[str, Any], model: Any, X: Any,
                      thresholds: dict[str, float]) -> tuple[tuple[FeatureDrift, ...], str | None]:
    import numpy as np
    import pyarrow as pa

    from workbench.drift import categorical_column, compare_categorical, compare_numeric
    from workbench.reference import prediction_outputs

    preds = ref.get("predictions") or {}
    if not preds:
        return (), "prediction drift not measured: the reference holds no test predictions (run 'dvc repro')"
    small = min(int(preds.get("rows") or 0), len(X)) <= thresholds["small_reference_rows"]
    task = str(ref.get("task") or "classification")
    pred, score = prediction_outputs(model, X, {"task": task, "positive_class": ref.get("positive_class")})
    rows: list[FeatureDrift] = []
    if task == "regression" and preds.get("value"):
        rows.append(compare_numeric("predicted value", preds["value"], np.asarray(pred, dtype="float64"),
                                    kind="prediction", small=small, thresholds=thresholds))
    else:
        if preds.get("score") and score is not None:
            rows.append(compare_numeric("predicted score", preds["score"], np.asarray(score, dtype="float64"),
                                        kind="prediction", small=small, thresholds=thresholds))
        if preds.get("classes"):
            col = categorical_column(pa.array(np.asarray(pred).tolist()))
            rows.append(compare_categorical("predicted class", preds["classes"], col.counts or {}, col.missing,
                                            kind="prediction", small=small, thresholds=thresholds))
    return tuple(rows), None


def _performance(ref: dict[str, Any], model: Any, X: Any, target: Any, task: str,
                 thresholds: dict[str, float], min_rows: int) -> tuple[Performance | None, str | None]:
    y = target.to_pandas()
    if task != "regression":
        y = _align_labels(y, list(getattr(model, "classes_", [])))
    else:
        import pandas as pd

        y = pd.to_numeric(y, errors="coerce")
    labelled = y.notna().to_numpy()
    n = int(labelled.sum())
    if n < min_rows:
        return None, (f"performance not measured: {n} labelled row(s) in the batch, fewer than "
                      f"min_rows {min_rows}")
    got = _metrics(task, model, X[labelled], y[labelled], ref.get("positive_class"))
    base = {k: float(v) for k, v in (ref.get("metrics") or {}).items() if isinstance(v, (int, float))}
    degraded = []
    for k, v in got.items():
        if k not in base:
            continue
        if k in HIGHER_IS_BETTER and base[k] - v > thresholds["max_metric_drop"]:
            degraded.append(f"{k} fell from {base[k]:.4g} to {v:.4g} on {n:,} labelled rows (tolerance "
                            f"{thresholds['max_metric_drop']:g})")
        elif k in LOWER_IS_BETTER and v - base[k] > thresholds["max_error_increase"] * max(abs(base[k]), 1e-12):
            degraded.append(f"{k} rose from {base[k]:.4g} to {v:.4g} on {n:,} labelled rows (tolerance "
                            f"+{thresholds['max_error_increase']:.0%})")
    return Performance(rows=n, metrics=got, reference={k: base[k] for k in got if k in base},
                       degraded=tuple(degraded)), None
