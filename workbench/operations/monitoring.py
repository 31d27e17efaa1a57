"""Monitoring: compare a batch of new data with the training reference; record the result.

``monitor(project, current)`` is ``mlops-workbench monitor``: it reads a batch (a CSV,
TSV or Parquet file, or by default the prediction service's log), compares it with
``reports/reference.json`` (written by the evaluate stage, see
:mod:`workbench.operations.reference`), and commits ``monitoring/<date>-<n>.json`` and
``.md`` as one ``monitoring`` step together with the batch's DVC pointer.
``run_monitor`` does the same work and writes nothing (previews, ``check``, tests).

What is judged (the tests themselves are in :mod:`workbench.operations.drift`):

* **feature drift** per model feature: Kolmogorov-Smirnov / chi-squared when the reference
  or the batch has at most ``small_reference_rows`` rows (a distance measured on a small
  batch is mostly sampling noise, while a test's p-value accounts for it; KS then uses the
  reference's 1,000-value sample), normalised Wasserstein / Jensen-Shannon when both are
  larger; PSI beside each;
* **dataset drift** when the share of drifted features reaches ``drift_share``;
* **prediction drift**: the batch is scored with ``models/model.skops`` and its predicted
  classes (and positive-class score) or values are compared with the test-split
  predictions the reference keeps;
* **performance**, when the batch has the target column: the evaluate stage's metrics on
  the batch against the reference's test metrics;
* **schema**: features missing from the batch or arriving with another type (these are
  named and left out; everything else is still compared); extra columns are listed.

Action is recommended (exit 3) for dataset drift, prediction drift, a metric worse than
its tolerance, or a missing/retyped feature; otherwise the batch is healthy (exit 0).
Unusable input (exit 2, nothing written): no reference, an unreadable or empty batch,
fewer than ``min_rows`` rows, a batch without any of the model's features, a prediction
log with no new lines.

Settings, under ``monitoring:`` in workbench.yaml (defaults shown; all optional)::

    monitoring:
      small_reference_rows: 1000  # rows (reference or batch) up to which KS / chi-squared are used
      p_value: 0.05               # KS and chi-squared: drift when p < this
      wasserstein: 0.1            # normalised Wasserstein distance: drift when >= this
      jensen_shannon: 0.1         # Jensen-Shannon distance (base 2): drift when >= this
      psi_moderate: 0.1           # PSI bands shown beside the tests
      psi_significant: 0.25
      drift_share: 0.5            # dataset drift when this share of features drifted
      min_rows: 30                # fewer rows in a batch: refused (too few to judge)
      max_metric_drop: 0.05       # accuracy/precision/recall/f1/roc_auc/r2 may fall this much
      max_error_increase: 0.1     # rmse/mae may rise this share

The prediction log is every ``monitoring/predictions/*.jsonl`` file, one prediction per
line, as ``mlops-workbench serve`` writes it: ``{"at": ISO-8601, "version": str, "request": n,
"input": {feature: value}, "prediction": ..., "score": ...}`` (``ts`` and ``inputs`` are read
as aliases of ``at`` and ``input``).
By default a check takes the lines newer than the last log-based report (``all_log``
takes every line). A half-written last line (the service was writing it) is skipped with
a note; the lines taken are written to ``monitoring/batches/<id>-predictions.parquet`` and
tracked by DVC, so the report's data is in the history.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.drift import DEFAULT_THRESHOLDS, FeatureDrift, not_compared
from workbench.operations.reference import REFERENCE_FILE, read_reference
from workbench.project import Project

SCHEMA = 1
FOLDER = "monitoring"
PREDICTIONS_FOLDER = "monitoring/predictions"
BATCHES_FOLDER = "monitoring/batches"
MODEL_FILE = "models/model.skops"
LOG_SUFFIXES = (".jsonl", ".ndjson")
HEALTHY, ACTION = "healthy", "action"
MISSING_RISE = 0.05  # a note (not a verdict) when a column's missing share rises this much

DEFAULT_SETTINGS: dict[str, float] = {
    **DEFAULT_THRESHOLDS,
    "drift_share": 0.5,
    "min_rows": 30,
    "max_metric_drop": 0.05,
    "max_error_increase": 0.1,
}
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc", "r2")
LOWER_IS_BETTER = ("rmse", "mae")
_REPORT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d+)\.json$")

Progress = Callable[[str], None]


# --- settings ----------------------------------------------------------------------------


def monitoring_settings(config: dict[str, Any]) -> dict[str, float]:
    """The thresholds: defaults overridden by ``monitoring:`` in workbench.yaml.

    Other keys under ``monitoring:`` (a retraining policy, say) are left alone.
    """
    out = dict(DEFAULT_SETTINGS)
    raw = config.get("monitoring")
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise WorkbenchError("monitoring in workbench.yaml is not a mapping: write it as "
                             "'monitoring: {drift_share: 0.5, ...}'")
    for key in DEFAULT_SETTINGS:
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise WorkbenchError(f"monitoring.{key} in workbench.yaml is {value!r}: it must be a number >= 0 "
                                 f"(default {DEFAULT_SETTINGS[key]:g})")
        out[key] = float(value)
    return out


# --- the batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """The data a check compares: a pyarrow table and where it came from."""

    table: Any
    source: str  # file | prediction_log
    display: str
    path: Path | None = None  # the file or folder (file batches)
    notes: tuple[str, ...] = ()
    log_files: tuple[str, ...] = ()
    first_ts: str | None = None
    last_ts: str | None = None
    versions: tuple[str, ...] = ()
    extra_columns: dict[str, list[Any]] = field(default_factory=dict)  # ts, version, prediction

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


def read_batch_file(path: str | Path, *, cwd: str | Path | None = None,
                    cancel: threading.Event | None = None) -> Batch:
    """A CSV/TSV/Parquet file (or folder of them) as a batch; one-line errors for bad files."""
    from workbench.design.data_read import load_source

    given = str(path)
    src = Path(path).expanduser()
    if not src.is_absolute():
        src = Path(cwd or Path.cwd()) / src
    src = Path(os.path.abspath(src))
    if not src.exists():
        raise WorkbenchError(f"{given} does not exist: give the batch as a CSV, TSV or Parquet file")
    table, formats = load_source(src, given, cancel=cancel)
    notes = tuple(n for f in formats for n in f.notes)
    return Batch(table=table, source="file", display=given, path=src, notes=notes)


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _arrow_column(values: list[Any]) -> Any:
    import pyarrow as pa

    def text(v: Any) -> str | None:
        if v is None:
            return None
        return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)

    if any(isinstance(v, (dict, list)) for v in values):
        return pa.array([text(v) for v in values], type=pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([text(v) for v in values], type=pa.string())


def read_prediction_log(project_path: str | Path, *, since: str | None = None,
                        cancel: threading.Event | None = None) -> Batch:
    """The service's JSON Lines log (``monitoring/predictions/*.jsonl``) as a batch.

    Lines stamped (``at``) at or before ``since`` are left out. A line that is not JSON is
    skipped with a note: the last line of a file is taken as half-written (the service was
    still writing it), any other as damaged.
    """
    import pyarrow as pa

    root = Path(project_path)
    folder = root / PREDICTIONS_FOLDER
    files = sorted(p for p in folder.glob("*") if p.suffix in LOG_SUFFIXES and p.is_file()) \
        if folder.is_dir() else []
    if not files:
        raise WorkbenchError(f"no batch given and no prediction log in {PREDICTIONS_FOLDER}/: pass a "
                             "CSV/Parquet file ('mlops-workbench monitor PATH') or serve the model first")
    limit = _parse_ts(since) if since else None
    notes: list[str] = []
    inputs: list[dict[str, Any]] = []
    meta: dict[str, list[Any]] = {"ts": [], "version": [], "prediction": []}
    damaged = 0
    for file in files:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the monitoring check was cancelled; nothing was written")
        rel = file.relative_to(root).as_posix()
        lines = file.read_bytes().split(b"\n")
        numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
        for pos, (number, raw) in enumerate(numbered):
            try:
                record = json.loads(raw.decode("utf-8"))
                if not isinstance(record, dict):
                    raise ValueError("not a record")
                features = record.get("input", record.get("inputs"))
                if not isinstance(features, dict):
                    raise ValueError("no input")
            except (ValueError, UnicodeDecodeError):
                if pos == len(numbered) - 1:
                    notes.append(f"{rel}: skipped the half-written last line {number} "
                                 "(the service was still writing it)")
                else:
                    damaged += 1
                    if damaged <= 3:
                        notes.append(f"{rel}: skipped line {number}, which is not a prediction record")
                continue
            stamp = record.get("at", record.get("ts"))
            when = _parse_ts(stamp)
            if limit is not None and (when is None or when <= limit):
                continue
            inputs.append(features)
            meta["ts"].append(stamp)
            meta["version"].append(None if record.get("version") is None else str(record.get("version")))
            pred = record.get("prediction")
            meta["prediction"].append(json.dumps(pred) if isinstance(pred, (dict, list)) else pred)
    if damaged > 3:
        notes.append(f"{damaged} damaged line(s) skipped in all")
    if not inputs:
        if since:
            raise WorkbenchError(f"no new predictions in {PREDICTIONS_FOLDER}/ since the last report ({since}): "
                                 "wait for more traffic, or pass --all to check the whole log")
        raise WorkbenchError(f"the prediction log in {PREDICTIONS_FOLDER}/ has no complete prediction "
                             "records: serve some predictions first, or pass a batch file")
    names: list[str] = list(dict.fromkeys(k for rec in inputs for k in rec))
    table = pa.table({n: _arrow_column([rec.get(n) for rec in inputs]) for n in names})
    stamps = sorted(t for t in meta["ts"] if isinstance(t, str) and _parse_ts(t) is not None)
    versions = tuple(sorted({v for v in meta["version"] if v}))
    return Batch(table=table, source="prediction_log", display=f"{PREDICTIONS_FOLDER}/",
                 notes=tuple(notes), log_files=tuple(f.relative_to(root).as_posix() for f in files),
                 first_ts=stamps[0] if stamps else None, last_ts=stamps[-1] if stamps else None,
                 versions=versions, extra_columns=meta)


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    """The model's metrics on the labelled rows of the batch, against the reference's."""

    rows: int
    metrics: dict[str, float]
    reference: dict[str, float]
    degraded: tuple[str, ...]  # one line per metric worse than its tolerance

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "metrics": self.metrics, "reference": self.reference,
                "degraded": list(self.degraded)}


@dataclass(frozen=True)
class MonitorReport:
    """One monitoring check (what the screen, ``--json`` and ``monitoring/<id>.json`` show)."""

    status: str  # healthy | action
    reasons: tuple[str, ...]
    checked_at: str
    batch: dict[str, Any]
    reference: dict[str, Any]
    thresholds: dict[str, float]
    features: tuple[FeatureDrift, ...]  # sorted by severity, worst first
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    retyped_columns: tuple[dict[str, str], ...]
    prediction_drift: tuple[FeatureDrift, ...]
    prediction_note: str | None
    performance: Performance | None
    performance_note: str | None
    notes: tuple[str, ...]
    id: str | None = None
    commit: str | None = None
    messages: tuple[str, ...] = ()

    @property
    def action_recommended(self) -> bool:
        return self.status == ACTION

    @property
    def exit_code(self) -> int:
        """0 healthy, 3 action recommended (unusable input raises instead: 2)."""
        return 3 if self.action_recommended else 0

    @property
    def compared(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted is not None)

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.compared) if self.compared else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.compared) and self.drift_share >= self.thresholds["drift_share"]

    @property
    def prediction_drifted(self) -> bool:
        return any(p.drifted for p in self.prediction_drift)

    @property
    def summary(self) -> str:
        head = "action recommended" if self.action_recommended else "healthy"
        text = (f"{head}: {len(self.drifted)} of {len(self.compared)} features drifted"
                f"{'; prediction drift' if self.prediction_drifted else ''}"
                f"{'; performance dropped' if self.performance and self.performance.degraded else ''}"
                f"{'; schema changed' if self.missing_columns or self.retyped_columns else ''}"
                f" ({Path(str(self.batch.get('display') or 'batch').rstrip('/')).name}, "
                f"{int(self.batch.get('rows') or 0):,} rows)")
        return text if len(text) <= 120 else text[:117] + "..."

    def feature(self, name: str) -> FeatureDrift:
        """One feature's comparison (for the screen's overlaid histogram)."""
        for f in (*self.features, *self.prediction_drift):
            if f.name == name:
                return f
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The documented ``monitoring/<id>.json`` shape (schema 1)."""
        return {
            "schema": SCHEMA,
            "id": self.id,
            "checked_at": self.checked_at,
            "status": self.status,
            "action_recommended": self.action_recommended,
            "summary": self.summary,
            "reasons": list(self.reasons),
            "batch": self.batch,
            "reference": self.reference,
            "thresholds": self.thresholds,
            "dataset_drift": {
                "detected": self.dataset_drift, "drifted": len(self.drifted), "compared": len(self.compared),
                "share": round(self.drift_share, 6), "threshold": self.thresholds["drift_share"],
                "drifted_features": [f.name for f in self.drifted],
            },
            "schema_changes": {"missing": list(self.missing_columns), "extra": list(self.extra_columns),
                               "retyped": [dict(r) for r in self.retyped_columns]},
            "features": [f.to_json() for f in self.features],
            "prediction_drift": {"detected": self.prediction_drifted, "note": self.prediction_note,
                                 "outputs": [p.to_json() for p in self.prediction_drift]},
            "performance": (self.performance.to_json() if self.performance else None),
            "performance_note": self.performance_note,
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        return render_markdown(self)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return str(x)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


METHOD_NAMES = {"ks": "Kolmogorov-Smirnov", "wasserstein": "Wasserstein (norm.)",
                "chi_squared": "chi-squared", "jensen_shannon": "Jensen-Shannon", "none": "not compared"}


def _drift_rows(rows: tuple[FeatureDrift, ...]) -> list[str]:
    lines = ["| feature | kind | test | statistic | p-value | threshold | drifted | PSI | missing (ref -> batch) "
             "| notes |", "|---|---|---|---:|---:|---:|---|---:|---|---|"]
    for f in rows:
        drifted = "n/a" if f.drifted is None else ("**yes**" if f.drifted else "no")
        psi = "-" if f.psi is None else f"{f.psi:.3f} ({f.psi_band})"
        lines.append(f"| {f.name} | {f.kind} | {METHOD_NAMES.get(f.method, f.method)} | {_fmt(f.statistic)} | "
                     f"{_fmt(f.p_value, 3)} | {_fmt(f.threshold)} | {drifted} | {psi} | "
                     f"{_pct(f.reference_missing_share)} -> {_pct(f.current_missing_share)} | "
                     f"{'; '.join(f.notes).replace('|', '/')} |")
    return lines


def render_markdown(report: MonitorReport) -> str:
    """The readable report (``monitoring/<id>.md``)."""
    b = report.batch
    verdict = "ACTION RECOMMENDED" if report.action_recommended else "HEALTHY"
    lines = [f"# Monitoring report {report.id or ''}".rstrip(), "",
             f"**{verdict}** — checked {report.checked_at}.", ""]
    if report.reasons:
        lines += ["## Why", "", *[f"- {r}" for r in report.reasons], ""]
    lines += ["## Batch", "", f"- source: {b.get('source')} `{b.get('display')}`",
              f"- rows: {int(b.get('rows') or 0):,}"]
    if b.get("path"):
        lines.append(f"- data version: `{b.get('path')}` (md5 `{b.get('dvc_md5') or '-'}`)")
    if b.get("first_ts"):
        lines.append(f"- predictions from {b.get('first_ts')} to {b.get('last_ts')}, model version(s) "
                     f"{', '.join(b.get('versions') or []) or '-'}")
    r = report.reference
    lines += [f"- reference: `{r.get('path')}` ({int(r.get('rows') or 0):,} train rows, "
              f"{int(r.get('test_rows') or 0):,} test predictions)", ""]
    dd = report.to_json()["dataset_drift"]
    lines += ["## Data drift", "",
              f"{dd['drifted']} of {dd['compared']} features drifted ({_pct(dd['share'])}; dataset drift "
              f"at {_pct(dd['threshold'])}): {'**dataset drift**' if dd['detected'] else 'no dataset drift'}.", ""]
    if report.missing_columns or report.retyped_columns or report.extra_columns:
        if report.missing_columns:
            lines.append(f"- missing feature columns: {', '.join(report.missing_columns)}")
        for rt in report.retyped_columns:
            lines.append(f"- {rt['column']}: expected {rt['expected']}, found {rt['found']}")
        if report.extra_columns:
            lines.append(f"- extra columns (not model features, ignored): {', '.join(report.extra_columns)}")
        lines.append("")
    lines += _drift_rows(report.features) + [""]
    lines += ["## Prediction drift", ""]
    if report.prediction_drift:
        lines += _drift_rows(report.prediction_drift) + [""]
    if report.prediction_note:
        lines += [report.prediction_note, ""]
    lines += ["## Performance", ""]
    if report.performance:
        p = report.performance
        lines += [f"On {p.rows:,} labelled rows of the batch:", "", "| metric | batch | reference |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {_fmt(v)} | {_fmt(p.reference.get(k))} |" for k, v in p.metrics.items()]
        lines += [""] + [f"- {d}" for d in p.degraded] + ([""] if p.degraded else [])
    if report.performance_note:
        lines += [report.performance_note, ""]
    if report.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    lines += ["Thresholds: " + ", ".join(f"{k} {v:g}" for k, v in report.thresholds.items()), ""]
    return "\n".join(ln.replace("\n", " ") if ln.startswith("|") else ln for ln in lines).rstrip() + "\n"


# --- comparing -------------------------------------------------------------------------------


def _compare_feature(name: str, profile: dict[str, Any], arr: Any, *, small: bool,
                     thresholds: dict[str, float]) -> tuple[FeatureDrift, dict[str, str] | None]:
    """One feature; returns the comparison and, when the column changed type, what it found."""
    from workbench.operations.drift import (
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

    from workbench.operations.reference import prediction_outputs

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
    now = now or datetime.now(timezone.utc)

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the monitoring check was cancelled; nothing was written")

    if reference is None:
        ref_path, ref_display = root / REFERENCE_FILE, REFERENCE_FILE
    else:
        ref_path = Path(reference).expanduser()
        if not ref_path.is_absolute():
            ref_path = Path(cwd or Path.cwd()) / ref_path
        ref_display = str(reference)
    ref = read_reference(ref_path, ref_display)
    say(f"reference: {ref_display} ({int(ref.get('rows') or 0):,} rows)")

    if current is not None:
        say(f"reading {current}")
        batch = read_batch_file(current, cwd=cwd, cancel=cancel)
    else:
        since = None if all_log else _last_log_ts(root)
        say(f"reading the prediction log{f' after {since}' if since else ''}")
        batch = read_prediction_log(root, since=since, cancel=cancel)
    check_cancel()
    features: dict[str, dict[str, Any]] = ref["features"]
    target = str(ref.get("target") or "")
    columns = list(batch.table.column_names)
    missing = tuple(f for f in features if f not in columns)
    extra = tuple(c for c in columns if c not in features and c != target)
    present = [f for f in features if f in columns]
    if not present:
        shown = ", ".join(list(features)[:8]) + (", ..." if len(features) > 8 else "")
        found = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise WorkbenchError(f"{batch.display} has none of the model's features (expected {shown}; found "
                             f"{found}): give a batch with the columns the model was trained on")
    min_rows = int(thresholds["min_rows"])
    if batch.rows < min_rows:
        raise WorkbenchError(
            f"{batch.display} has {batch.rows:,} row{'s' if batch.rows != 1 else ''}: a drift check needs at least "
            f"{min_rows} (monitoring.min_rows in workbench.yaml); wait for a bigger batch")

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

    # prediction drift and performance need the model and every feature
    pred_rows: tuple[FeatureDrift, ...] = ()
    pred_note: str | None = None
    performance: Performance | None = None
    perf_note: str | None = None
    model = None
    X = None
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
        if target and target in columns:
            performance, perf_note = _performance(ref, model, X, batch.table.column(target), task,
                                                  thresholds, min_rows)
        else:
            perf_note = f"performance not measured: the batch has no target column {target!r}"

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
        checked_at=now.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        batch=batch_info, reference=ref_info, thresholds=thresholds, features=tuple(compared),
        missing_columns=missing, extra_columns=extra, retyped_columns=retyped,
        prediction_drift=pred_rows, prediction_note=pred_note, performance=performance,
        performance_note=perf_note, notes=tuple(notes),
    )
    say(report.summary)
    return report, batch


def _prediction_drift(ref: dict[str, Any], model: Any, X: Any,
                      thresholds: dict[str, float]) -> tuple[tuple[FeatureDrift, ...], str | None]:
    import numpy as np
    import pyarrow as pa

    from workbench.operations.drift import categorical_column, compare_categorical, compare_numeric
    from workbench.operations.reference import prediction_outputs

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


# --- past reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSummary:
    """One past report, for drift over time (oldest first in :func:`list_reports`)."""

    id: str
    checked_at: str
    status: str
    action_recommended: bool
    source: str
    batch: str
    rows: int
    drift_share: float
    drifted_features: tuple[str, ...]
    #: feature -> (statistic, drifted) for plotting each feature over time
    statistics: dict[str, tuple[float | None, bool | None]]
    prediction_drift: bool
    performance: dict[str, float]
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "checked_at": self.checked_at, "status": self.status,
                "action_recommended": self.action_recommended, "source": self.source, "batch": self.batch,
                "rows": self.rows, "drift_share": self.drift_share,
                "drifted_features": list(self.drifted_features),
                "statistics": {k: {"statistic": s, "drifted": d} for k, (s, d) in self.statistics.items()},
                "prediction_drift": self.prediction_drift, "performance": self.performance,
                "reasons": list(self.reasons)}


def _report_files(root: Path) -> list[tuple[str, int, Path]]:
    folder = root / FOLDER
    if not folder.is_dir():
        return []
    out = []
    for p in folder.glob("*.json"):
        m = _REPORT_NAME.match(p.name)
        if m:
            out.append((m.group(1), int(m.group(2)), p))
    return sorted(out)


def latest_report(project_path: str | Path) -> Path | None:
    """The newest report file (``<date>-<n>.json``, by date then number: ``-10`` after ``-2``)."""
    found = _report_files(Path(project_path))
    return found[-1][2] if found else None


def list_reports(project_path: str | Path) -> list[ReportSummary]:
    """Every monitoring report of the project, oldest first (unreadable files are skipped)."""
    out = []
    for _date, _n, path in _report_files(Path(project_path)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            continue
        dd = data.get("dataset_drift") or {}
        batch = data.get("batch") or {}
        out.append(ReportSummary(
            id=path.stem, checked_at=str(data.get("checked_at") or ""), status=str(data.get("status") or ""),
            action_recommended=bool(data.get("action_recommended")), source=str(batch.get("source") or ""),
            batch=str(batch.get("path") or batch.get("display") or ""), rows=int(batch.get("rows") or 0),
            drift_share=float(dd.get("share") or 0.0), drifted_features=tuple(dd.get("drifted_features") or ()),
            statistics={f["name"]: (f.get("statistic"), f.get("drifted")) for f in data.get("features") or []
                        if isinstance(f, dict) and "name" in f},
            prediction_drift=bool((data.get("prediction_drift") or {}).get("detected")),
            performance=dict(((data.get("performance") or {}).get("metrics")) or {}),
            reasons=tuple(data.get("reasons") or ()),
        ))
    return out


def read_report(project_path: str | Path, report_id: str) -> dict[str, Any]:
    """One report's JSON by id (``2026-06-01-1``)."""
    path = Path(project_path) / FOLDER / f"{report_id}.json"
    if not _REPORT_NAME.match(path.name) or not path.is_file():
        raise WorkbenchError(f"there is no monitoring report {report_id!r}: see 'mlops-workbench monitor --history'")
    return json.loads(path.read_text(encoding="utf-8"))


def _last_log_ts(root: Path) -> str | None:
    """The newest prediction a previous log-based report covered."""
    for _date, _n, path in reversed(_report_files(root)):
        try:
            batch = json.loads(path.read_text(encoding="utf-8")).get("batch") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if batch.get("source") == "prediction_log" and batch.get("last_ts"):
            return str(batch["last_ts"])
    return None


def next_report_id(root: Path, now: datetime) -> str:
    """``<date>-<n>``: the day's next number."""
    day = now.astimezone(timezone.utc).strftime("%Y-%m-%d")
    used = [n for d, n, _ in _report_files(root) if d == day]
    return f"{day}-{max(used, default=0) + 1}"


# --- the step ---------------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> Path | None:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _pointer_for(root: Path, rel: str) -> str | None:
    """The .dvc pointer that tracks ``rel`` (its own, or a tracked parent folder's)."""
    parts = Path(rel).parts
    for i in range(len(parts), 0, -1):
        candidate = Path(*parts[:i]).as_posix() + ".dvc"
        if (root / candidate).is_file():
            return candidate
    return None


def monitor(
    project_path: str | Path,
    current: str | Path | None = None,
    *,
    reference: str | Path | None = None,
    all_log: bool = False,
    role: str | None = None,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> MonitorReport:
    """Run the check and commit the report with the batch's DVC pointer (one ``monitoring`` step).

    A batch from outside the project is copied to ``monitoring/batches/<id>-<name>``; one
    inside it is tracked where it is (re-added when it differs from its pointer); the
    prediction log lines taken are written to ``monitoring/batches/<id>-predictions.parquet``.
    Each is ``dvc add``-ed in the step and pushed after the commit.
    """
    from workbench.design.data_check import _file_md5, _pointer_md5
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning import git
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    now = now or datetime.now(timezone.utc)
    report, batch = run_monitor(project.path, current, reference=reference, all_log=all_log, cwd=cwd,
                                progress=progress, cancel=cancel, now=now)
    root = project.path
    made: list[Path] = []
    try:
        with begin_step(root, "monitoring", role=role, summary=report.summary, progress=progress,
                        cancel=cancel) as step:
            report_id = next_report_id(root, now)
            notes = list(report.notes)
            data_rel: str | None = None
            pointer: str | None = None
            if batch.source == "prediction_log":
                import io

                import pyarrow as pa
                import pyarrow.parquet as pq

                data_rel = f"{BATCHES_FOLDER}/{report_id}-predictions.parquet"
                table = batch.table
                for key, values in batch.extra_columns.items():
                    name = f"_{key}"
                    table = table.append_column(name, pa.array(
                        [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values],
                        type=pa.string()))
                sink = io.BytesIO()
                pq.write_table(table, sink)
                dest = root / data_rel
                atomic_write_bytes(dest, sink.getvalue())
                made.append(dest)
                step.dvc_add([data_rel], cancel=cancel)
                pointer = f"{data_rel}.dvc"
            else:
                assert batch.path is not None
                from workbench.development.training import pipeline_outputs

                inside = _inside(batch.path, root)
                # A pipeline output (data/prepared/test.parquet) changes with every repro and is
                # DVC's already: the report keeps a copy of it, like a file from outside.
                if inside is None or not inside.parts or inside.parts[0] in (".git", ".dvc") or \
                        inside.as_posix() in pipeline_outputs(root):
                    data_rel = f"{BATCHES_FOLDER}/{report_id}-{batch.path.name}"
                    step.copy_in(batch.path, data_rel)  # journaled: a kill -9 leaves no stray copy
                    made.append(root / data_rel)
                    step.dvc_add([data_rel], cancel=cancel)
                    pointer = f"{data_rel}.dvc"
                    step.body = f"Batch copied from {batch.path}."
                else:
                    data_rel = inside.as_posix()
                    own = f"{data_rel}.dvc"
                    tracking = _pointer_for(root, data_rel)
                    repo = git.repo_root(root)
                    in_git = repo is not None and bool(git.run_git(
                        repo, "ls-files", "--", str(batch.path), check=False).strip())
                    if tracking == own and batch.path.is_file() and \
                            _pointer_md5(root / own) == _file_md5(batch.path):
                        step.include(own)
                        pointer = own
                    elif tracking is not None and tracking != own:
                        step.include(tracking)
                        pointer = tracking
                        notes.append(f"the batch is inside {tracking[:-4]}, tracked by DVC as a whole")
                    elif in_git:
                        notes.append(f"{data_rel} is tracked by git, not DVC: its version is the commit's")
                    else:
                        step.dvc_add([data_rel], cancel=cancel)
                        pointer = own
            md5 = _pointer_md5(root / pointer) if pointer else None
            batch_info = {**report.batch, "path": data_rel, "dvc": pointer, "dvc_md5": md5}
            report = replace(report, id=report_id, batch=batch_info, notes=tuple(notes))
            step.write_text(f"{FOLDER}/{report_id}.json",
                            json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
            step.write_text(f"{FOLDER}/{report_id}.md", report.to_markdown())
            step.summary = report.summary
            reasons = "\n".join(f"- {r}" for r in report.reasons)
            step.body = "\n".join(x for x in (
                step.body, f"Report: {FOLDER}/{report_id}.md",
                f"Batch: {data_rel} (md5 {md5})" if md5 else f"Batch: {data_rel}",
                f"\nWhy action is recommended:\n{reasons}" if reasons else "") if x)
    except BaseException:
        for path in made:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return replace(report, commit=step.commit, messages=tuple(step.messages))


__all__ = [
    "Batch", "DEFAULT_SETTINGS", "MonitorReport", "Performance", "ReportSummary", "list_reports",
    "compare_table", "monitor", "monitoring_settings", "read_batch_file", "read_prediction_log", "read_report",
    "render_markdown", "run_monitor",
]
