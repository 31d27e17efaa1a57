"""Monitoring: compare a batch of new data with the training reference; record the result.

``monitor(project, current)`` is ``mlops-workbench monitor``: it reads a batch (a CSV,
TSV or Parquet file, or by default the prediction service's log), compares it with
``reports/reference.json`` (written by the evaluate stage, see
:mod:`workbench.reference`), and commits ``monitoring/<date>-<n>.json`` and
``.md`` as one ``monitoring`` step together with the batch's DVC pointer.
``run_monitor`` does the same work and writes nothing (previews, ``check``, tests).

What is judged (the tests themselves are in :mod:`workbench.drift`):

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

from workbench.operations.monitoring.batch import Batch, read_batch_file, read_prediction_log
from workbench.operations.monitoring.compare import compare_table, run_monitor
from workbench.operations.monitoring.history import (
    ReportSummary,
    latest_report,
    list_reports,
    next_report_id,
    read_report,
)
from workbench.operations.monitoring.report import MonitorReport, Performance, render_markdown
from workbench.operations.monitoring.settings import (
    ACTION,
    DEFAULT_SETTINGS,
    FOLDER,
    HEALTHY,
    HIGHER_IS_BETTER,
    LOG_SUFFIXES,
    LOWER_IS_BETTER,
    METHOD_NAMES,
    MISSING_RISE,
    SCHEMA,
    monitoring_settings,
)
from workbench.operations.monitoring.step import monitor
from workbench.paths import BATCHES_FOLDER, MODEL_FILE, PREDICTIONS_FOLDER
from workbench.progress import Progress

__all__ = [
    "SCHEMA",
    "FOLDER",
    "PREDICTIONS_FOLDER",
    "BATCHES_FOLDER",
    "MODEL_FILE",
    "LOG_SUFFIXES",
    "HEALTHY",
    "ACTION",
    "MISSING_RISE",
    "DEFAULT_SETTINGS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "Progress",
    "monitoring_settings",
    "METHOD_NAMES",
    "Batch",
    "read_batch_file",
    "read_prediction_log",
    "Performance",
    "MonitorReport",
    "render_markdown",
    "ReportSummary",
    "latest_report",
    "list_reports",
    "read_report",
    "next_report_id",
    "compare_table",
    "run_monitor",
    "monitor",
]
